"""`explain(identifier)`: which customer an identifier belongs to, and why.

Answers the support question "why are these two one person?": the customer, all its
identifiers (first/last seen, sources), the links that joined them (co-occurrence in source
rows), the links and identifiers identity resolution refused around it, and retired ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlglot import exp

from cdpkit.errors import CdpkitError
from cdpkit.identity.relations import col, lit, model, require
from cdpkit.warehouse import Warehouse

MAX_LINKS = 200
"""Links and blocked rows shown at most (a customer can have thousands of anonymous ids)."""


@dataclass(frozen=True)
class Explanation:
    """Everything known about one identifier; `customer` is None when it resolves to nobody."""

    query: str
    identifier_type: str | None
    identifier_value: str | None
    status: str
    """resolved | rejected (junk, invalid, blocklisted) | overlinked | unknown"""
    reason: str | None = None
    customer: dict[str, Any] | None = None
    identifiers: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    links_total: int = 0
    blocked: list[dict[str, Any]] = field(default_factory=list)
    blocked_total: int = 0
    aliases: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "identifier_type": self.identifier_type,
            "identifier_value": self.identifier_value,
            "status": self.status,
            "reason": self.reason,
            "customer": _jsonable(self.customer),
            "identifiers": _jsonable(self.identifiers),
            "links": _jsonable(self.links),
            "links_total": self.links_total,
            "blocked": _jsonable(self.blocked),
            "blocked_total": self.blocked_total,
            "aliases": _jsonable(self.aliases),
        }


def candidate_values(text: str) -> list[str]:
    """Forms the normalized value may take: as given (trimmed), lower-cased, E.164."""
    trimmed = text.strip()
    values = [trimmed, trimmed.lower()]
    digits = "".join(ch for ch in trimmed if ch.isdigit())
    if digits and len(digits) >= 7 and not any(ch.isalpha() for ch in trimmed):
        try:
            import phonenumbers

            number = phonenumbers.parse(trimmed, None if trimmed.startswith("+") else "US")
            values.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        except Exception:  # noqa: S110 - not a phone number: the other forms still apply
            pass
        values.append("+" + digits)
    return list(dict.fromkeys(v for v in values if v))


def explain(wh: Warehouse, identifier: str, identifier_type: str | None = None) -> Explanation:
    """Explain `identifier` (a raw or normalized value), optionally of one identifier type."""
    if not identifier.strip():
        raise CdpkitError("give a non-empty identifier to explain")
    require(wh, "customer_identifiers", "customers", "identity_blocked_links")
    match = _find(wh, identifier, identifier_type)
    if match is None:
        return _unresolved(wh, identifier, identifier_type)
    id_type, id_value, customer_id = match
    customer = _row(
        wh,
        exp.select("*")
        .from_(model(wh, "customers"))
        .where(col("customers", "customer_id").eq(lit(customer_id))),
    )
    identifiers = _rows(
        wh,
        exp.select(
            "identifier_type",
            "identifier_value",
            "first_seen_at",
            "last_seen_at",
            "occurrences",
            "sources",
        )
        .from_(model(wh, "customer_identifiers"))
        .where(exp.column("customer_id", quoted=True).eq(lit(customer_id)))
        .order_by("identifier_type", "first_seen_at", "identifier_value"),
    )
    links, links_total = _links(wh, customer_id)
    keys = [(r["identifier_type"], r["identifier_value"]) for r in identifiers]
    blocked, blocked_total = _blocked(wh, keys)
    aliases = _aliases(wh, customer_id)
    return Explanation(
        query=identifier,
        identifier_type=id_type,
        identifier_value=id_value,
        status="resolved",
        customer=customer,
        identifiers=identifiers,
        links=links,
        links_total=links_total,
        blocked=blocked,
        blocked_total=blocked_total,
        aliases=aliases,
    )


def _find(wh: Warehouse, text: str, id_type: str | None) -> tuple[str, str, str] | None:
    values = candidate_values(text)
    table = model(wh, "customer_identifiers")
    cond: exp.Expression = exp.column("identifier_value", quoted=True).isin(*map(lit, values))
    if id_type:
        cond = exp.and_(cond, exp.column("identifier_type", quoted=True).eq(lit(id_type)))
    query = (
        exp.select("identifier_type", "identifier_value", "customer_id")
        .from_(table)
        .where(cond)
        .order_by("identifier_type", "identifier_value")
    )
    rows = wh.fetchall(query.sql(wh.dialect))
    if not rows:
        rows = _find_by_raw(wh, text, id_type)
    if not rows:
        return None
    types = sorted({r[0] for r in rows})
    if len(types) > 1:
        raise CdpkitError(
            f"'{text.strip()}' is an identifier of several types ({', '.join(types)}); "
            "pass --type to choose one"
        )
    if len({r[2] for r in rows}) > 1:
        found = ", ".join(f"{r[1]} ({r[2]})" for r in rows)
        raise CdpkitError(f"'{text.strip()}' matches several identifiers: {found}; be exact")
    return str(rows[0][0]), str(rows[0][1]), str(rows[0][2])


def _find_by_raw(wh: Warehouse, text: str, id_type: str | None) -> list[tuple[Any, ...]]:
    """Look the value up as written in the sources (e.g. a phone as `415.555.0100`)."""
    if wh.table_columns("int_identifiers_normalized", wh.schema) is None:
        return []
    normalized = model(wh, "int_identifiers_normalized").as_("n")
    identifiers = model(wh, "customer_identifiers").as_("c")
    cond: exp.Expression = col("n", "raw_value").isin(*map(lit, {text, text.strip()}))
    if id_type:
        cond = exp.and_(cond, col("n", "identifier_type").eq(lit(id_type)))
    query = (
        exp.select(
            col("c", "identifier_type"), col("c", "identifier_value"), col("c", "customer_id")
        )
        .distinct()
        .from_(normalized)
        .join(
            identifiers,
            on=exp.and_(
                col("c", "identifier_type").eq(col("n", "identifier_type")),
                col("c", "identifier_value").eq(col("n", "identifier_value")),
            ),
        )
        .where(cond)
    )
    return wh.fetchall(query.sql(wh.dialect))


def _unresolved(wh: Warehouse, text: str, id_type: str | None) -> Explanation:
    """Not anyone's identifier: say whether it was rejected, over-linked or never seen."""
    values = [text, *candidate_values(text)]
    cond: exp.Expression = exp.or_(
        exp.column("identifier_value", quoted=True).isin(*map(lit, dict.fromkeys(values))),
        exp.column("linked_identifier_value", quoted=True).isin(*map(lit, dict.fromkeys(values))),
    )
    if id_type:
        cond = exp.and_(
            cond,
            exp.or_(
                exp.column("identifier_type", quoted=True).eq(lit(id_type)),
                exp.column("linked_identifier_type", quoted=True).eq(lit(id_type)),
            ),
        )
    query = (
        exp.select(*_BLOCKED_COLUMNS)
        .from_(model(wh, "identity_blocked_links"))
        .where(cond)
        .order_by("block_type", "reason", "identifier_type", "identifier_value")
    )
    blocked_all = _rows(wh, query)
    own = [
        r
        for r in blocked_all
        if r["block_type"] == "identifier" and r["identifier_value"] in values
    ]
    if not own:
        return Explanation(
            query=text,
            identifier_type=id_type,
            identifier_value=None,
            status="unknown",
            reason="not seen in any identity source",
        )
    first = own[0]
    status = "overlinked" if first["reason"] == "overlinked" else "rejected"
    reasons = sorted({str(r["reason"]) for r in own})
    return Explanation(
        query=text,
        identifier_type=str(first["identifier_type"]),
        identifier_value=str(first["identifier_value"]),
        status=status,
        reason=", ".join(reasons),
        blocked=blocked_all[:MAX_LINKS],
        blocked_total=len(blocked_all),
    )


_BLOCKED_COLUMNS = (
    "block_type",
    "reason",
    "identifier_type",
    "identifier_value",
    "linked_identifier_type",
    "linked_identifier_value",
    "detail",
    "occurrences",
)


def _links(wh: Warehouse, customer_id: str) -> tuple[list[dict[str, Any]], int]:
    """The co-occurrence links between the customer's identifiers (why they are one person)."""
    if wh.table_columns("int_identity_edges", wh.schema) is None:
        return [], 0
    mine = (
        exp.select(col("n", "node_id"), col("n", "identifier_type"), col("n", "identifier_value"))
        .from_(model(wh, "int_identity_nodes").as_("n"))
        .join(
            model(wh, "customer_identifiers").as_("c"),
            on=exp.and_(
                col("c", "identifier_type").eq(col("n", "identifier_type")),
                col("c", "identifier_value").eq(col("n", "identifier_value")),
            ),
        )
        .where(col("c", "customer_id").eq(lit(customer_id)))
    )
    query = (
        exp.select(
            col("a", "identifier_type").as_("identifier_type"),
            col("a", "identifier_value").as_("identifier_value"),
            col("b", "identifier_type").as_("linked_identifier_type"),
            col("b", "identifier_value").as_("linked_identifier_value"),
            col("e", "sources"),
            col("e", "row_count").as_("occurrences"),
            col("e", "first_seen_at"),
            col("e", "last_seen_at"),
        )
        .with_("mine", as_=mine)
        .from_(model(wh, "int_identity_edges").as_("e"))
        .join(exp.to_table("mine").as_("a"), on=col("a", "node_id").eq(col("e", "node_a")))
        .join(exp.to_table("mine").as_("b"), on=col("b", "node_id").eq(col("e", "node_b")))
        .order_by(exp.column("occurrences").desc(), "identifier_type", "identifier_value")
    )
    rows = _rows(wh, query)
    return rows[:MAX_LINKS], len(rows)


def _blocked(wh: Warehouse, keys: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], int]:
    """Blocked rows whose identifier or linked identifier is one of `keys`."""
    if not keys:
        return [], 0
    pairs = [exp.Tuple(expressions=[lit(t), lit(v)]) for t, v in keys]
    own = exp.Tuple(
        expressions=[
            exp.column("identifier_type", quoted=True),
            exp.column("identifier_value", quoted=True),
        ]
    )
    other = exp.Tuple(
        expressions=[
            exp.column("linked_identifier_type", quoted=True),
            exp.column("linked_identifier_value", quoted=True),
        ]
    )
    query = (
        exp.select(*_BLOCKED_COLUMNS)
        .from_(model(wh, "identity_blocked_links"))
        .where(
            exp.and_(
                exp.column("block_type", quoted=True)
                .neq(lit("identifier"))
                .or_(exp.column("reason", quoted=True).eq(lit("overlinked"))),
                exp.or_(own.isin(*pairs), other.isin(*pairs)),
            )
        )
        .order_by("reason", "identifier_type", "identifier_value")
    )
    rows = _rows(wh, query)
    return rows[:MAX_LINKS], len(rows)


def _aliases(wh: Warehouse, customer_id: str) -> list[dict[str, Any]]:
    if wh.table_columns("customer_id_aliases", wh.schema) is None:
        return []
    query = (
        exp.select("retired_customer_id", "retired_at")
        .from_(model(wh, "customer_id_aliases"))
        .where(exp.column("customer_id", quoted=True).eq(lit(customer_id)))
        .order_by("retired_customer_id")
    )
    return _rows(wh, query)


def _rows(wh: Warehouse, query: exp.Expression) -> list[dict[str, Any]]:
    names, rows = wh.query(query.sql(wh.dialect))
    return [dict(zip(names, r, strict=True)) for r in rows]


def _row(wh: Warehouse, query: exp.Expression) -> dict[str, Any] | None:
    rows = _rows(wh, query)
    return rows[0] if rows else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
