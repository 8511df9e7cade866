"""Row buffers of one batch of people, plus the truth every written identifier adds."""

from __future__ import annotations

from typing import Final

Row = tuple[str | None, ...]
"""A row of a raw table: text or None (NULL), in contract column order."""

TABLE_NAMES: Final = ("events", "orders", "order_items", "crm_contacts", "email_events", "consents")


class Rows:
    """Mutable sink the simulators append to; a batch of people shares one instance."""

    __slots__ = (
        "events",
        "orders",
        "order_items",
        "crm_contacts",
        "email_events",
        "consents",
        "truth",
        "_seen",
        "_person",
    )

    def __init__(self) -> None:
        self.events: list[Row] = []
        self.orders: list[Row] = []
        self.order_items: list[Row] = []
        self.crm_contacts: list[Row] = []
        self.email_events: list[Row] = []
        self.consents: list[Row] = []
        self.truth: list[Row] = []
        self._seen: dict[tuple[str, str], None] = {}
        self._person = ""

    def start_person(self, person_id: str) -> None:
        """Make `person_id` the owner of the truth rows that follow (de-duplication restarts)."""
        self._person = person_id
        self._seen = {}

    def see(self, identifier_type: str, value: str | None) -> None:
        """Record that the current person wrote `value` as `identifier_type` (once per person)."""
        if value is None:
            return
        key = (identifier_type, value)
        if key not in self._seen:
            self._seen[key] = None
            self.truth.append((self._person, identifier_type, value))

    def table(self, name: str) -> list[Row]:
        """The buffer of a raw table by name."""
        return getattr(self, name)  # type: ignore[no-any-return]

    def counts(self) -> dict[str, int]:
        """Rows buffered per table, truth included."""
        counts = {name: len(self.table(name)) for name in TABLE_NAMES}
        counts["truth"] = len(self.truth)
        return counts
