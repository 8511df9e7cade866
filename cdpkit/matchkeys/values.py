"""Outcome types shared by the match-key builders: an invalid value and the issue it leaves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


class InvalidValue(ValueError):
    """A value that cannot be normalized for matching; `reason` is shown to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class KeyIssue:
    """Why one mapped field of a record was not sent (e.g. `phone: not a valid number`)."""

    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}"


def describe(issues: tuple[KeyIssue, ...]) -> str:
    """One rejection reason naming every offending key, in a stable order."""
    return "; ".join(str(issue) for issue in issues)


InvalidPolicy = Literal["reject", "drop"]
"""What an invalid value does to its record: `reject` it (the default), or `drop` the value."""


def verdict(issues: tuple[KeyIssue, ...], key_count: int, policy: InvalidPolicy) -> str | None:
    """The rejection reason of a record, or None when it may be sent.

    A record is rejected when one of its values is invalid (policy `reject`) or when no
    match key is left to send; invalid values themselves are never sent.
    """
    if issues and policy == "reject":
        return describe(issues)
    if key_count == 0:
        return "no match keys" + (f" ({describe(issues)})" if issues else "")
    return None
