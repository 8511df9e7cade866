"""The building blocks of audience conditions: values, durations, operators, comparisons.

Stable codes of the audience layer live here too (A000-A003 are the generic shape codes of
`cdpkit.spec.validation`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    WithJsonSchema,
    model_validator,
)

from cdpkit.spec.validation import spec_error

# Stable codes of the audience layer (A000-A003 are the generic shape codes of validation.py).
BAD_NAME = "A010"
NO_OPERATOR = "A011"
MANY_OPERATORS = "A012"
BAD_DURATION = "A013"
BAD_CONDITION = "A014"
EMPTY_LIST = "A015"
BAD_OPERAND = "A016"
BAD_WINDOW = "A017"
BAD_PROPERTY = "A018"
CONFLICT = "A019"

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
PROPERTY_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week"}
MAX_NAME = 63


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return repr(value) if not isinstance(value, str) else f"{value[:40]!r}"


def _scalar(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise spec_error(BAD_OPERAND, f"expected a finite number, got {value}")
    if isinstance(value, str | bool | int | float | date | datetime):
        return value
    raise spec_error(
        BAD_OPERAND,
        f"expected a single value (text, number, true/false or date), got {_describe(value)}",
    )


def _number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise spec_error(BAD_OPERAND, f"expected a finite number, got {value}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise spec_error(BAD_OPERAND, f"expected a number, got {_describe(value)}")


Scalar = Annotated[
    Any,
    BeforeValidator(_scalar),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]
Number = Annotated[Any, BeforeValidator(_number), WithJsonSchema({"type": "number"})]

CONDITION_KINDS = ("trait", "event", "order", "percentile", "audience", "all", "any", "not")
COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "between")
OPERATORS = (
    "eq",
    "ne",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "contains",
    "starts_with",
    "ends_with",
    "is_null",
    "within",
    "older_than",
)
AGGREGATES = ("sum", "avg", "min", "max")


@dataclass(frozen=True)
class Duration:
    """A length of time written as `<n><unit>` (s m h d w), e.g. `30d`."""

    amount: int
    unit: str  # second | minute | hour | day | week

    @property
    def seconds(self) -> int:
        per = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
        return self.amount * per[self.unit]

    def __str__(self) -> str:
        short = {v: k for k, v in UNITS.items()}[self.unit]
        return f"{self.amount}{short}"


def _duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    hint = "write a whole number and a unit (s m h d w), e.g. 30d or 12h"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise spec_error(BAD_DURATION, "a duration must be text like 30d", hint=hint)
    if isinstance(value, int):
        raise spec_error(
            BAD_DURATION, f"duration {value} has no unit", hint=f"did you mean '{value}d'?"
        )
    match = DURATION.match(value)
    if not match:
        shown = value if len(value) <= 30 else value[:27] + "..."
        raise spec_error(BAD_DURATION, f"bad duration {shown!r}", hint=hint)
    amount = int(match.group(1))
    if amount <= 0 or amount > 100_000:
        raise spec_error(BAD_DURATION, f"duration {value!r} must be between 1 and 100000 units")
    return Duration(amount, UNITS[match.group(2)])


DurationField = Annotated[
    Duration,
    BeforeValidator(_duration),
    WithJsonSchema({"type": "string", "pattern": r"^\s*[0-9]+\s*[smhdw]\s*$"}),
]


class Spec(BaseModel):
    """Base of every user-facing model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, arbitrary_types_allowed=True)


def _one_of(
    model: BaseModel,
    keys: tuple[str, ...],
    noun: str,
    hint: str | None = None,
    what: str = "operator",
) -> str:
    """The single key of `keys` set on `model` (by alias); errors for none or several."""
    aliases = {(f.alias or n): n for n, f in type(model).model_fields.items()}
    present = [k for k in keys if aliases.get(k, k) in model.model_fields_set]
    if not present:
        raise spec_error(NO_OPERATOR, f"{noun} needs one of: {', '.join(keys)}")
    if len(present) > 1:
        raise spec_error(
            MANY_OPERATORS,
            f"{noun} takes one {what}; found " + " and ".join(f"'{k}'" for k in present),
            key=present[1],
            hint=hint,
        )
    key = present[0]
    if getattr(model, aliases.get(key, key)) is None:
        raise spec_error(
            BAD_OPERAND,
            f"'{key}' needs a value",
            key=key,
            hint="use is_null: true to match missing values" if key in ("eq", "ne") else None,
        )
    return key


class Operators(Spec):
    """One comparison on a column: `{gte: 3}`, `{in: [a, b]}`, `{is_null: true}` …"""

    KEYS: ClassVar[tuple[str, ...]] = OPERATORS
    NOUN: ClassVar[str] = "a filter"

    eq: Scalar | None = None
    ne: Scalar | None = None
    in_: list[Scalar] | None = Field(None, alias="in", min_length=1)
    not_in: list[Scalar] | None = Field(None, min_length=1)
    gt: Scalar | None = None
    gte: Scalar | None = None
    lt: Scalar | None = None
    lte: Scalar | None = None
    between: list[Scalar] | None = Field(None, min_length=2, max_length=2)
    contains: StrictStr | None = None
    starts_with: StrictStr | None = None
    ends_with: StrictStr | None = None
    is_null: StrictBool | None = None
    within: DurationField | None = None
    older_than: DurationField | None = None

    @property
    def operator(self) -> str:
        """The operator's name as written (`in`, not `in_`)."""
        return next(k for k in self.KEYS if _field(k) in self.model_fields_set)

    @property
    def operand(self) -> Any:
        return getattr(self, _field(self.operator))

    @model_validator(mode="after")
    def _exactly_one(self) -> Operators:
        _one_of(
            self,
            self.KEYS,
            self.NOUN,
            hint="use between: [low, high], or combine conditions with all: [...]",
        )
        return self


def _field(key: str) -> str:
    return "in_" if key == "in" else key


def _filter_shorthand(value: Any) -> Any:
    """`where: {col: value}` means eq, `where: {col: [a, b]}` means in."""
    if isinstance(value, list):
        return {"in": value}
    if value is None or isinstance(value, dict):
        return value
    return {"eq": value}


Filter = Annotated[Operators, BeforeValidator(_filter_shorthand)]
Where = dict[str, Filter]


class Comparison(Spec):
    """A comparison of a number: `{gte: 3}`, `{between: [1, 5]}`."""

    KEYS: ClassVar[tuple[str, ...]] = COMPARISONS
    NOUN: ClassVar[str] = "a comparison"

    eq: Number | None = None
    ne: Number | None = None
    gt: Number | None = None
    gte: Number | None = None
    lt: Number | None = None
    lte: Number | None = None
    between: list[Number] | None = Field(None, min_length=2, max_length=2)

    @property
    def operator(self) -> str:
        return next(k for k in self.KEYS if k in self.model_fields_set)

    @property
    def operand(self) -> Any:
        return getattr(self, self.operator)

    @model_validator(mode="after")
    def _exactly_one(self) -> Comparison:
        _one_of(self, self.KEYS, self.NOUN)
        if self.between is not None and self.between[0] > self.between[1]:
            raise spec_error(BAD_OPERAND, "between: [low, high] needs low <= high", key="between")
        return self


class Aggregate(Comparison):
    """`{sum: total_amount, gte: 500}`: one aggregate function and one comparison."""

    NOUN: ClassVar[str] = "an aggregate comparison"

    sum: StrictStr | None = None
    avg: StrictStr | None = None
    min: StrictStr | None = None
    max: StrictStr | None = None
    eq: Scalar | None = None  # type: ignore[assignment]  # min/max also compare timestamps
    ne: Scalar | None = None  # type: ignore[assignment]
    gt: Scalar | None = None  # type: ignore[assignment]
    gte: Scalar | None = None  # type: ignore[assignment]
    lt: Scalar | None = None  # type: ignore[assignment]
    lte: Scalar | None = None  # type: ignore[assignment]
    between: list[Scalar] | None = Field(None, min_length=2, max_length=2)  # type: ignore[assignment]

    @property
    def function(self) -> str:
        return next(k for k in AGGREGATES if k in self.model_fields_set)

    @property
    def column(self) -> str:
        return str(getattr(self, self.function))

    @model_validator(mode="after")
    def _exactly_one(self) -> Aggregate:
        _one_of(self, AGGREGATES, "an aggregate", what="function")
        _one_of(self, self.KEYS, self.NOUN)
        return self
