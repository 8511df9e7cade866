"""Pairwise accuracy of identity resolution against the demo data's ground truth (truth.csv).

Definitions (identifiers = normalized nodes of the identity graph):
- an identifier's persons are the truth persons of every raw value that normalizes to it; only
  identifiers of exactly one person are scored (a shared family tablet or a junk value has no
  single right answer);
- precision: of the pairs of scored identifiers put in one customer, the share that belong to
  one person;
- achievable pairs: pairs of scored identifiers of one person joined by a path of co-occurrence
  links between scored identifiers of that same person (no junk or shared value on the way);
- recall: the share of achievable pairs put in one customer.
Identifiers the normalization rejected although they belong to exactly one person (a national
phone number without a known country, a typo that fails the email syntax) are reported apart.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlglot import exp

from cdpkit.identity.relations import col, model, require
from cdpkit.warehouse import Warehouse


@dataclass(frozen=True)
class Accuracy:
    """Pair counts and the ratios derived from them."""

    identifiers: int
    scored_identifiers: int
    predicted_pairs: int
    true_predicted_pairs: int
    achievable_pairs: int
    found_achievable_pairs: int
    unassigned_scored_identifiers: int
    rejected_single_person_values: int

    @property
    def precision(self) -> float:
        return self.true_predicted_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        if not self.achievable_pairs:
            return 1.0
        return self.found_achievable_pairs / self.achievable_pairs


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def evaluate(wh: Warehouse, truth: exp.Table) -> Accuracy:
    """Score the built identity models of `wh` against the truth table (person_id,
    identifier_type, identifier_value as written)."""
    require(wh, "int_identifiers_normalized", "int_identity_nodes", "int_identity_edges")
    require(wh, "int_identity_clusters", "int_identity_customer_ids")
    t = truth.copy().as_("t")
    values = model(wh, "int_identifiers_normalized").as_("v")
    nodes = model(wh, "int_identity_nodes").as_("n")
    same_raw = exp.and_(
        col("v", "identifier_type").eq(col("t", "identifier_type")),
        col("v", "raw_value").eq(col("t", "identifier_value")),
    )
    node_persons = (
        exp.select(col("n", "node_id"), col("t", "person_id"))
        .distinct()
        .from_(t)
        .join(values, on=same_raw)
        .join(
            nodes,
            on=exp.and_(
                col("n", "identifier_type").eq(col("v", "identifier_type")),
                col("n", "identifier_value").eq(col("v", "identifier_value")),
            ),
        )
    )
    persons: dict[int, set[str]] = defaultdict(set)
    for _, rows in wh.batches(node_persons.sql(wh.dialect), 50_000):
        for node_id, person_id in rows:
            persons[int(node_id)].add(str(person_id))
    person_of = {node: next(iter(p)) for node, p in persons.items() if len(p) == 1}

    customers = (
        exp.select(col("c", "node_id"), col("i", "customer_id"))
        .from_(model(wh, "int_identity_clusters").as_("c"))
        .join(
            model(wh, "int_identity_customer_ids").as_("i"),
            on=col("i", "cluster_id").eq(col("c", "cluster_id")),
        )
    )
    customer_of: dict[int, str] = {}
    for _, rows in wh.batches(customers.sql(wh.dialect), 50_000):
        for node_id, customer_id in rows:
            customer_of[int(node_id)] = str(customer_id)

    per_customer: Counter[str] = Counter()
    per_customer_person: Counter[tuple[str, str]] = Counter()
    for node, person in person_of.items():
        customer = customer_of.get(node)
        if customer is not None:
            per_customer[customer] += 1
            per_customer_person[(customer, person)] += 1

    uf = _UnionFind()
    edges = exp.select("node_a", "node_b").from_(model(wh, "int_identity_edges"))
    for _, rows in wh.batches(edges.sql(wh.dialect), 100_000):
        for a, b in rows:
            pa, pb = person_of.get(int(a)), person_of.get(int(b))
            if pa is not None and pa == pb:
                uf.union(int(a), int(b))
    per_component: Counter[int] = Counter()
    per_component_customer: Counter[tuple[int, str]] = Counter()
    unassigned = 0
    for node in person_of:
        root = uf.find(node)
        per_component[root] += 1
        customer = customer_of.get(node)
        if customer is None:
            unassigned += 1
        else:
            per_component_customer[(root, customer)] += 1

    return Accuracy(
        identifiers=len(persons),
        scored_identifiers=len(person_of),
        predicted_pairs=sum(_pairs(n) for n in per_customer.values()),
        true_predicted_pairs=sum(_pairs(n) for n in per_customer_person.values()),
        achievable_pairs=sum(_pairs(n) for n in per_component.values()),
        found_achievable_pairs=sum(_pairs(n) for n in per_component_customer.values()),
        unassigned_scored_identifiers=unassigned,
        rejected_single_person_values=_rejected_single_person(wh, truth),
    )


def _rejected_single_person(wh: Warehouse, truth: exp.Table) -> int:
    """Raw values of one person that normalization rejected as invalid (not as junk)."""
    t = truth.copy().as_("t")
    values = model(wh, "int_identifiers_normalized").as_("v")
    rejected = (
        exp.select(col("t", "identifier_type"), col("t", "identifier_value"))
        .from_(t)
        .join(
            values,
            on=exp.and_(
                col("v", "identifier_type").eq(col("t", "identifier_type")),
                col("v", "raw_value").eq(col("t", "identifier_value")),
            ),
        )
        .where(
            col("v", "reject_reason").isin(
                exp.convert("invalid_email"), exp.convert("invalid_phone")
            )
        )
        .group_by(col("t", "identifier_type"), col("t", "identifier_value"))
        .having(exp.func("count", exp.Distinct(expressions=[col("t", "person_id")])).eq(1))
    )
    count = exp.select(exp.func("count", exp.Star())).from_(rejected.subquery("r"))
    row = wh.fetchone(count.sql(wh.dialect))
    return int(row[0]) if row else 0
