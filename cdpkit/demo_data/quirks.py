"""A person's one-off data-entry mistakes (a typo, junk placeholders), spent as they type."""

from __future__ import annotations

import random

from cdpkit.demo_data.person import Person


class Quirks:
    """Each place a person types an email or phone asks here whether a mistake happens now."""

    __slots__ = ("rng", "typo", "junk_email", "junk_email_uses", "junk_phone", "junk_phone_uses",
                 "junk_id")  # fmt: skip

    def __init__(self, p: Person, rng: random.Random) -> None:
        self.rng = rng
        self.typo = p.typo_email
        self.junk_email = p.junk_email
        self.junk_email_uses = 1 + (rng.random() < 0.4)
        self.junk_phone = p.junk_phone
        self.junk_phone_uses = 1 + (rng.random() < 0.4)
        self.junk_id = p.junk_id

    def email(self, typed: str) -> str:
        """`typed`, or (now and then, while unspent) the person's typo or junk address."""
        if self.typo is not None and self.rng.random() < 0.5:
            typo, self.typo = self.typo, None
            return typo
        if self.junk_email is not None and self.rng.random() < 0.6:
            junk = self.junk_email
            self.junk_email_uses -= 1
            if not self.junk_email_uses:
                self.junk_email = None
            return junk
        return typed

    def phone(self, typed: str) -> str:
        """`typed`, or (now and then, while unspent) the person's junk phone placeholder."""
        if self.junk_phone is not None and self.rng.random() < 0.5:
            return self.spend_junk_phone() or typed
        return typed

    def spend_junk_phone(self) -> str | None:
        """The junk phone placeholder (e.g. a cashier's '0000000000') if one is left."""
        junk = self.junk_phone
        if junk is not None:
            self.junk_phone_uses -= 1
            if not self.junk_phone_uses:
                self.junk_phone = None
        return junk

    def take_junk_id(self) -> str | None:
        """The junk user_id a buggy client sends for one session ('undefined', 'null'), once."""
        junk, self.junk_id = self.junk_id, None
        return junk
