"""The few expressions whose correct SQL differs per warehouse, built explicitly per dialect.

sqlglot renders most of the audience SQL portably; these are the places where it does not (or
where the portable form fails on a real engine), verified per dialect:

- timestamps: `CAST('…' AS TIMESTAMP)`; BigQuery's TIMESTAMP (sqlglot's TIMESTAMPTZ), because
  dbt's `type_timestamp()` is BigQuery's TIMESTAMP and sqlglot's TIMESTAMP renders DATETIME.
- "now" in UTC without a time zone: `CURRENT_TIMESTAMP AT TIME ZONE 'UTC'` (DuckDB, PostgreSQL),
  `SYSDATE()` (Snowflake), `GETDATE()` (Redshift), `CURRENT_TIMESTAMP()` (BigQuery, Databricks).
- interval arithmetic: `ts + INTERVAL '1 HOUR'`; BigQuery `TIMESTAMP_ADD(ts, INTERVAL 1 HOUR)`.
- JSON text at a key path of a JSON *text* column: DuckDB `->> '$.a.b'`, PostgreSQL
  `JSON_EXTRACT_PATH_TEXT(CAST(x AS JSON), 'a', 'b')` (the function needs json, not text),
  Snowflake `JSON_EXTRACT_PATH_TEXT(x, 'a.b')`, Redshift `JSON_EXTRACT_PATH_TEXT(x, 'a', 'b',
  TRUE)`, BigQuery `JSON_EXTRACT_SCALAR`, Databricks `GET_JSON_OBJECT`. Property keys are
  restricted to [A-Za-z_][A-Za-z0-9_]* so no path needs quoting. DuckDB and PostgreSQL raise
  on malformed JSON text: the marts must hold valid JSON (or NULL) in `properties`.
- text → number without failing on junk: `TRY_CAST` (DuckDB, Databricks), `SAFE_CAST`
  (BigQuery), `TRY_TO_DOUBLE` (Snowflake), a regex-guarded CASE (PostgreSQL, Redshift).
- holdout hash: `SUBSTRING(MD5(CAST(customer_id AS TEXT) || ':' || name), 1, 8)`, lowercase hex
  everywhere (BigQuery: `TO_HEX(MD5(…))`), compared as text with a fixed-width hex threshold.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlglot import exp

from cdpkit.spec.audience import Duration

DIALECTS = ("duckdb", "postgres", "snowflake", "bigquery", "databricks", "redshift")
# POSIX classes only (no backslashes, which PostgreSQL and Redshift literals treat differently);
# bounded digits so the cast can never overflow a double.
NUMERIC_TEXT = (
    "^[[:space:]]*[-+]?([0-9]{1,30}([.][0-9]{0,30})?|[.][0-9]{1,30})([eE][-+]?[0-9]{1,2})?"
    "[[:space:]]*$"
)
HASH_CHARS = 8  # 32 bits of the md5 hex digest
HASH_SPACE = 16**HASH_CHARS


def timestamp_type(dialect: str) -> exp.DataType:
    kind = exp.DataType.Type.TIMESTAMPTZ if dialect == "bigquery" else exp.DataType.Type.TIMESTAMP
    return exp.DataType(this=kind)


def to_utc_naive(value: date | datetime) -> datetime:
    """A date/datetime as a naive UTC datetime (naive values are taken as UTC)."""
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def timestamp_literal(value: date | datetime, dialect: str) -> exp.Expression:
    text = to_utc_naive(value).isoformat(sep=" ")
    return exp.Cast(this=exp.Literal.string(text), to=timestamp_type(dialect))


def now(dialect: str) -> exp.Expression:
    """The warehouse's current time as a UTC timestamp (used when no as_of is fixed)."""
    if dialect in ("duckdb", "postgres"):
        return exp.AtTimeZone(this=exp.CurrentTimestamp(), zone=exp.Literal.string("UTC"))
    if dialect == "snowflake":
        return exp.Anonymous(this="SYSDATE", expressions=[])
    return exp.CurrentTimestamp()


def _unit(duration: Duration) -> tuple[int, str]:
    if duration.unit == "week":
        return duration.amount * 7, "DAY"
    return duration.amount, duration.unit.upper()


def shift(ts: exp.Expression, duration: Duration, sign: int, dialect: str) -> exp.Expression:
    """`ts` plus (sign=1) or minus (sign=-1) `duration`."""
    amount, unit = _unit(duration)
    if dialect == "bigquery":
        node = exp.TimestampAdd if sign > 0 else exp.TimestampSub
        return node(this=ts, expression=exp.Literal.number(amount), unit=exp.var(unit))
    interval = exp.Interval(this=exp.Literal.string(str(amount)), unit=exp.var(unit))
    return (
        exp.Add(this=ts, expression=interval) if sign > 0 else exp.Sub(this=ts, expression=interval)
    )


class Clock:
    """Time as the audience sees it: a fixed `as_of` (literals) or the warehouse's now."""

    def __init__(self, as_of: datetime | None, dialect: str) -> None:
        self.as_of = to_utc_naive(as_of) if as_of is not None else None
        self.dialect = dialect

    def now(self) -> exp.Expression:
        if self.as_of is None:
            return now(self.dialect)
        return timestamp_literal(self.as_of, self.dialect)

    def ago(self, duration: Duration) -> exp.Expression:
        if self.as_of is None:
            return shift(now(self.dialect), duration, -1, self.dialect)
        return timestamp_literal(self.as_of - timedelta(seconds=duration.seconds), self.dialect)


def json_text(column: exp.Expression, keys: list[str], dialect: str) -> exp.Expression:
    """The text value at `keys` of a JSON text column (NULL when absent)."""
    if dialect == "duckdb":
        path = "$." + ".".join(keys)
        return exp.JSONExtractScalar(this=column, expression=exp.Literal.string(path))
    if dialect == "postgres":
        args = [exp.Cast(this=column, to=exp.DataType.build("json"))]
        args.extend(exp.Literal.string(k) for k in keys)
        return exp.Anonymous(this="JSON_EXTRACT_PATH_TEXT", expressions=args)
    if dialect == "redshift":  # null_if_invalid = true: junk JSON gives NULL, not an error
        args = [column, *(exp.Literal.string(k) for k in keys), exp.true()]
        return exp.Anonymous(this="JSON_EXTRACT_PATH_TEXT", expressions=args)
    if dialect == "snowflake":
        return exp.Anonymous(
            this="JSON_EXTRACT_PATH_TEXT", expressions=[column, exp.Literal.string(".".join(keys))]
        )
    if dialect == "bigquery":
        path = exp.Literal.string("$." + ".".join(keys))
        return exp.Anonymous(this="JSON_EXTRACT_SCALAR", expressions=[column, path])
    path = exp.Literal.string("$." + ".".join(keys))
    return exp.Anonymous(this="GET_JSON_OBJECT", expressions=[column, path])


def to_double(text: exp.Expression, dialect: str) -> exp.Expression:
    """Text as a double, NULL (never an error) when it is not a number."""
    double = exp.DataType.build("double")
    if dialect == "snowflake":
        return exp.Anonymous(this="TRY_TO_DOUBLE", expressions=[text])
    if dialect in ("postgres", "redshift"):
        is_number = exp.RegexpLike(this=text, expression=exp.Literal.string(NUMERIC_TEXT))
        return exp.Case(ifs=[exp.If(this=is_number, true=exp.Cast(this=text, to=double))])
    return exp.TryCast(this=text, to=double)


def holdout_threshold(percent: float) -> str:
    """The hex prefix below which a customer is in the holdout (fixed width, lowercase)."""
    basis_points = round(percent * 100)
    return format(basis_points * HASH_SPACE // 10_000, f"0{HASH_CHARS}x")


def holdout_hash(customer_id: exp.Expression, audience: str) -> exp.Expression:
    """First 8 lowercase hex chars of md5(customer_id || ':' || audience)."""
    key = exp.DPipe(
        this=exp.DPipe(
            this=exp.Cast(this=customer_id, to=exp.DataType.build("text")),
            expression=exp.Literal.string(":"),
        ),
        expression=exp.Literal.string(audience),
        safe=True,
    )
    return exp.Substring(
        this=exp.MD5(this=key),
        start=exp.Literal.number(1),
        length=exp.Literal.number(HASH_CHARS),
    )


def in_holdout(
    customer_id: exp.Expression, audience: str, percent: float, dialect: str
) -> exp.Expression:
    """True for the deterministic `percent` % of customers held out of this audience.

    PostgreSQL compares text by the database collation: "C" makes it bytewise everywhere.
    """
    digest = holdout_hash(customer_id, audience)
    if dialect == "postgres":
        digest = exp.Collate(this=digest, expression=exp.to_identifier("C", quoted=True))
    return exp.LT(this=digest, expression=exp.Literal.string(holdout_threshold(percent)))


def in_holdout_python(customer_id: str, audience: str, percent: float) -> bool:
    """The same rule in Python (documentation and tests)."""
    import hashlib

    digest = hashlib.md5(f"{customer_id}:{audience}".encode(), usedforsecurity=False).hexdigest()
    return digest[:HASH_CHARS] < holdout_threshold(percent)
