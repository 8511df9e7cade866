"""Per-platform normalization and hashing of identifiers (match keys) for audience uploads."""

from __future__ import annotations

from cdpkit.matchkeys.google import GoogleKeys, build_google_keys
from cdpkit.matchkeys.hashing import hash_once, is_sha256_hex, sha256_hex
from cdpkit.matchkeys.meta import META_KEYS, MetaRow, build_meta_row
from cdpkit.matchkeys.values import InvalidPolicy, InvalidValue, KeyIssue

__all__ = [
    "META_KEYS",
    "GoogleKeys",
    "InvalidPolicy",
    "InvalidValue",
    "KeyIssue",
    "MetaRow",
    "build_google_keys",
    "build_meta_row",
    "hash_once",
    "is_sha256_hex",
    "sha256_hex",
]
