"""`${ENV_VAR}` references in destination files: secrets and environment-dependent text.

- `Secret` fields (tokens, signing keys) must be exactly `${NAME}`; a literal value is an error
  (a secret written into a file ends up in git). They resolve at run time, are registered for
  redaction, and serialise back as the reference, never the value.
- `EnvText` fields (base URLs, paths) may embed `${NAME}` or `${NAME:-default}` anywhere.
- `SecretText` fields (header values such as `Bearer ${TOKEN}`) embed references like
  `EnvText`, but whatever they resolve to is treated as a secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

from cdpkit.errors import ConfigError
from cdpkit.spec.validation import spec_error
from cdpkit.sync import redact

ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_REF = re.compile(r"\$\{(" + ENV_NAME + r")(?::-([^}]*))?\}")
_EXACT_REF = re.compile(r"\$\{(" + ENV_NAME + r")\}")

SECRET_CODE = "D010"  # noqa: S105 - a diagnostic code
TEXT_CODE = "D011"


@dataclass(frozen=True)
class EnvSecret:
    """A secret held in an environment variable; only the reference is ever shown."""

    name: str

    def __str__(self) -> str:
        return f"${{{self.name}}}"

    __repr__ = __str__

    def missing(self, environ: Mapping[str, str] | None = None) -> list[str]:
        env = os.environ if environ is None else environ
        return [] if env.get(self.name) else [self.name]

    def reveal(self, environ: Mapping[str, str] | None = None) -> str:
        """The secret value (registered for redaction first)."""
        env = os.environ if environ is None else environ
        value = env.get(self.name)
        if not value:
            raise ConfigError(
                f"environment variable {self.name} is not set (a secret is read from it)"
            )
        redact.register(value)
        return value


@dataclass(frozen=True)
class EnvText:
    """Text with `${NAME}` / `${NAME:-default}` references resolved at run time."""

    template: str
    secret: bool = False

    def __str__(self) -> str:
        return self.template

    __repr__ = __str__

    def references(self) -> Iterator[tuple[str, str | None]]:
        for match in _REF.finditer(self.template):
            yield match.group(1), match.group(2)

    def missing(self, environ: Mapping[str, str] | None = None) -> list[str]:
        env = os.environ if environ is None else environ
        return [
            name for name, default in self.references() if default is None and not env.get(name)
        ]

    def resolve(self, environ: Mapping[str, str] | None = None) -> str:
        env = os.environ if environ is None else environ

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            value = env.get(name) or default
            if value is None:
                raise ConfigError(
                    f"environment variable {name} is not set (used in '{self.template}')"
                )
            if self.secret and default is None:
                redact.register(value)
            return value

        resolved = _REF.sub(substitute, self.template)
        if self.secret and resolved != self.template:
            redact.register(resolved)
        return resolved


def _parse_secret(value: Any) -> EnvSecret:
    if isinstance(value, EnvSecret):
        return value
    if isinstance(value, str) and (match := _EXACT_REF.fullmatch(value.strip())):
        return EnvSecret(match.group(1))
    raise spec_error(
        SECRET_CODE,
        "a secret must be an environment variable reference like ${MY_API_TOKEN}; "
        "secrets are never written into project files",
        hint="export the value in the environment and reference it here as ${NAME}",
    )


def _text_parser(secret: bool) -> Any:
    def parse(value: Any) -> EnvText:
        if isinstance(value, EnvText):
            return value
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise spec_error(TEXT_CODE, "expected a string")
        text = str(value)
        leftover = _REF.sub("", text)
        if "${" in leftover:
            raise spec_error(
                TEXT_CODE,
                "malformed environment reference; write ${NAME} or ${NAME:-default}",
            )
        return EnvText(text, secret=secret)

    return parse


Secret = Annotated[
    EnvSecret,
    PlainValidator(_parse_secret),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$",
            "description": "An environment variable reference, e.g. ${MY_API_TOKEN}.",
        }
    ),
]
Text = Annotated[
    EnvText,
    PlainValidator(_text_parser(secret=False)),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "description": "Text; may use ${NAME} or ${NAME:-default}."}),
]
SecretText = Annotated[
    EnvText,
    PlainValidator(_text_parser(secret=True)),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "description": "Text whose ${NAME} references are secrets (redacted everywhere).",
        }
    ),
]


def walk_references(
    value: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], EnvSecret | EnvText]]:
    """Every EnvSecret/EnvText inside a model (or containers of them), with its data path."""
    from pydantic import BaseModel

    if isinstance(value, EnvSecret | EnvText):
        yield path, value
    elif isinstance(value, BaseModel):
        for name, field in type(value).model_fields.items():
            key = field.alias or name
            yield from walk_references(getattr(value, name), (*path, key))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk_references(item, (*path, key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from walk_references(item, (*path, i))
