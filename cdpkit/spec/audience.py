"""The audience language (v1): pydantic models for `audiences/*.yml`, with stable error codes.

    name: pricing_lurkers
    include:
      all:
        - event: page_viewed
          where: {page_path: {eq: /pricing}}
          count: {gte: 3}
          within: 30d
        - not: {order: {where: {status: {eq: completed}}}}
    exclude: {trait: is_anonymous, eq: true}
    consent: marketing
    fields: [email, first_name]

A condition is a mapping with exactly one kind key (trait, event, order, percentile, audience,
all, any, not); a list means `all:`. Shape errors are caught here; names, types, events and
references are checked against the catalog by `cdpkit.spec.checks`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Discriminator,
    Field,
    PrivateAttr,
    StrictInt,
    StrictStr,
    Tag,
    field_validator,
    model_validator,
)

from cdpkit.spec.diagnostics import did_you_mean
from cdpkit.spec.operators import (
    AGGREGATES,
    BAD_CONDITION,
    BAD_DURATION,
    BAD_NAME,
    BAD_OPERAND,
    BAD_PROPERTY,
    BAD_WINDOW,
    COMPARISONS,
    CONDITION_KINDS,
    CONFLICT,
    DURATION,
    EMPTY_LIST,
    MANY_OPERATORS,
    MAX_NAME,
    NAME_PATTERN,
    NO_OPERATOR,
    OPERATORS,
    PROPERTY_KEY,
    UNITS,
    Aggregate,
    Comparison,
    Duration,
    DurationField,
    Filter,
    Number,
    Operators,
    Scalar,
    Spec,
    Where,
    _one_of,
)
from cdpkit.spec.validation import spec_error

__all__ = [
    "AGGREGATES",
    "BAD_CONDITION",
    "BAD_DURATION",
    "BAD_NAME",
    "BAD_OPERAND",
    "BAD_PROPERTY",
    "BAD_WINDOW",
    "COMPARISONS",
    "CONDITION_KINDS",
    "CONFLICT",
    "DURATION",
    "EMPTY_LIST",
    "MANY_OPERATORS",
    "NO_OPERATOR",
    "OPERATORS",
    "PROPERTY_KEY",
    "UNITS",
    "Aggregate",
    "AllCondition",
    "AnyCondition",
    "AudienceRef",
    "AudienceSpec",
    "Comparison",
    "Condition",
    "Duration",
    "DurationField",
    "EventCondition",
    "Filter",
    "FollowUp",
    "NotCondition",
    "Number",
    "Operators",
    "OrderCondition",
    "OrderFilter",
    "Percentile",
    "PercentileCondition",
    "Scalar",
    "Split",
    "Spec",
    "TraitCondition",
    "Where",
    "Window",
    "Windowed",
]


class Window(Spec):
    """`between: {from: 90d, to: 30d}`: from 90 days ago until 30 days ago."""

    from_: DurationField = Field(alias="from")
    to: DurationField

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.from_.seconds <= self.to.seconds:
            raise spec_error(
                BAD_WINDOW,
                f"between: 'from' ({self.from_}) must be further back than 'to' ({self.to})",
                key="from",
                hint="both count back from as_of: from: 90d, to: 30d means 90 to 30 days ago",
            )
        return self


def _none_to_empty(value: Any) -> Any:
    return {} if value is None else value


class Windowed(Spec):
    """Options shared by event and order conditions: filters, count, time window, aggregate."""

    where: Where | None = None
    count: Comparison | None = None
    within: DurationField | None = None
    between: Window | None = None
    after: datetime | date | None = None
    before: datetime | date | None = None
    aggregate: Aggregate | None = None

    @model_validator(mode="after")
    def _window(self) -> Windowed:
        if self.within is not None and self.between is not None:
            raise spec_error(CONFLICT, "use either within: or between:, not both", key="between")
        if (
            self.after is not None
            and self.before is not None
            and _as_datetime(self.after) >= _as_datetime(self.before)
        ):
            raise spec_error(BAD_WINDOW, "after: must be earlier than before:", key="after")
        return self


def _as_datetime(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return datetime(value.year, value.month, value.day)


class OrderFilter(Spec):
    """The order side of `followed_by: {order: {where: …}}`."""

    where: Where | None = None


class FollowUp(Spec):
    """`followed_by: {event: order_completed, within: 1d}` or `{order: {}, within: 1d}`."""

    event: StrictStr | None = Field(None, min_length=1)
    order: Annotated[OrderFilter, BeforeValidator(_none_to_empty)] | None = None
    where: Where | None = None
    within: DurationField | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> FollowUp:
        _one_of(self, ("event", "order"), "followed_by", what="kind (event or order)")
        if self.order is not None and self.where is not None:
            raise spec_error(
                CONFLICT,
                "put the order filters inside order: {where: …}",
                key="where",
            )
        return self


class EventCondition(Windowed):
    """Customers with (count of) events by name, filters, time window, sequence."""

    event: StrictStr = Field(min_length=1)
    followed_by: FollowUp | None = None
    not_followed_by: FollowUp | None = None


class OrderCondition(Spec):
    """Customers with (count/amount of) orders: `order: {where: …, count: …, within: …}`."""

    order: Annotated[Windowed, BeforeValidator(_none_to_empty)]


class TraitCondition(Operators):
    """A comparison on a `customers` column: `{trait: total_revenue, gte: 100}`."""

    NOUN: ClassVar[str] = "a trait condition"

    trait: StrictStr = Field(min_length=1)


class Percentile(Spec):
    """`{trait: total_revenue, top_percent: 20}` (or bottom_percent, top, bottom).

    Ranks the customers whose trait is not null (and who match `where`, when given); ties are
    broken by customer_id ascending; N % keeps the first ceil(N/100 · count) ranks.
    """

    KEYS: ClassVar[tuple[str, ...]] = ("top_percent", "bottom_percent", "top", "bottom")

    trait: StrictStr = Field(min_length=1)
    where: Where | None = None  # ranks only the customers matching these filters
    top_percent: Number | None = Field(None, gt=0, le=100)
    bottom_percent: Number | None = Field(None, gt=0, le=100)
    top: StrictInt | None = Field(None, ge=1)
    bottom: StrictInt | None = Field(None, ge=1)

    @property
    def rank(self) -> str:
        return next(k for k in self.KEYS if k in self.model_fields_set)

    @property
    def descending(self) -> bool:
        return self.rank.startswith("top")

    @model_validator(mode="after")
    def _one_rank(self) -> Percentile:
        key = _one_of(self, self.KEYS, "percentile", what="rank")
        value = getattr(self, key)
        if key.endswith("percent") and round(value * 100) != value * 100:
            raise spec_error(BAD_OPERAND, f"{key} takes at most 2 decimals", key=key)
        return self


class PercentileCondition(Spec):
    percentile: Percentile


class AudienceRef(Spec):
    """Members of another audience (its include, exclude and consent; never its holdout)."""

    audience: StrictStr = Field(min_length=1)


class AllCondition(Spec):
    all: list[Condition] = Field(min_length=1)


class AnyCondition(Spec):
    any: list[Condition] = Field(min_length=1)


class NotCondition(Spec):
    not_: Condition = Field(alias="not")


def _kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True, exclude_unset=True)
    if not isinstance(value, dict):
        return None
    kinds = [k for k in CONDITION_KINDS if k in value]
    return f"condition:{kinds[0]}" if len(kinds) == 1 else None


def _check_condition(value: Any) -> Any:
    """A list means all:; a mapping needs exactly one kind key (precise errors otherwise)."""
    if isinstance(value, list):
        if not value:
            raise spec_error(EMPTY_LIST, "an empty list matches nobody; add conditions")
        return {"all": value}
    if isinstance(value, BaseModel):
        return value
    kinds_text = ", ".join(CONDITION_KINDS)
    if not isinstance(value, dict):
        raise spec_error(
            BAD_CONDITION,
            f"a condition must be a mapping with one of: {kinds_text}",
            hint="for example {trait: country, eq: US}",
        )
    kinds = [k for k in CONDITION_KINDS if k in value]
    if len(kinds) > 1:
        raise spec_error(
            BAD_CONDITION,
            "a condition has exactly one kind; found " + " and ".join(f"'{k}'" for k in kinds),
            key=kinds[1],
            hint="combine conditions with all: [...] or any: [...]",
        )
    if not kinds:
        keys = [k for k in value if isinstance(k, str)]
        for key in keys:
            hint = did_you_mean(key, CONDITION_KINDS)
            if hint:
                raise spec_error(
                    BAD_CONDITION, f"unknown condition kind '{key}'", key=key, hint=hint
                )
        first = keys[0] if keys else None
        raise spec_error(
            BAD_CONDITION,
            f"a condition needs one of: {kinds_text}",
            key=first,
        )
    return value


Condition = Annotated[
    Annotated[TraitCondition, Tag("condition:trait")]
    | Annotated[EventCondition, Tag("condition:event")]
    | Annotated[OrderCondition, Tag("condition:order")]
    | Annotated[PercentileCondition, Tag("condition:percentile")]
    | Annotated[AudienceRef, Tag("condition:audience")]
    | Annotated[AllCondition, Tag("condition:all")]
    | Annotated[AnyCondition, Tag("condition:any")]
    | Annotated[NotCondition, Tag("condition:not")],
    Discriminator(_kind),
    BeforeValidator(_check_condition),
]


class Split(Spec):
    """`split: {holdout_percent: 10}`: a deterministic holdout kept out of syncs."""

    holdout_percent: Number = Field(gt=0, lt=100)

    @field_validator("holdout_percent")
    @classmethod
    def _two_decimals(cls, value: float) -> float:
        if round(value * 100) != value * 100:
            raise spec_error(BAD_OPERAND, "holdout_percent takes at most 2 decimals")
        return value


class AudienceSpec(Spec):
    """One audience: who to include, who to exclude, consent, and the fields a sync may use."""

    name: StrictStr
    description: StrictStr = ""
    tags: list[StrictStr] = Field(default_factory=list)
    include: Condition
    exclude: Condition | None = None
    consent: Literal["marketing", "advertising"] | None = None
    fields: list[StrictStr] = Field(default_factory=list)
    split: Split | None = None

    _source: str | None = PrivateAttr(default=None)

    @property
    def source(self) -> str | None:
        """The file this audience was loaded from (None when built in code)."""
        return self._source

    @property
    def holdout_percent(self) -> float:
        return float(self.split.holdout_percent) if self.split else 0.0

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if NAME_PATTERN.match(value) and len(value) <= MAX_NAME:
            return value
        suggestion = re.sub(r"[^a-z0-9_]+", "_", value.strip().lower()).strip("_")
        if suggestion and not suggestion[0].isalpha():
            suggestion = f"a_{suggestion}"
        suggestion = suggestion[:MAX_NAME]
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise spec_error(
            BAD_NAME,
            f"bad audience name {shown!r}: use lowercase letters, digits and _, "
            f"starting with a letter (at most {MAX_NAME} characters)",
            hint=f"did you mean '{suggestion}'?" if NAME_PATTERN.match(suggestion) else None,
        )


for _model in (AllCondition, AnyCondition, NotCondition, AudienceSpec):
    _model.model_rebuild()
