"""SHA-256 of normalized identifiers, lowercase hex, never applied twice."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


def is_sha256_hex(value: str) -> bool:
    """True for a 64-character hex string: a value someone already hashed."""
    return _SHA256_HEX.fullmatch(value) is not None


def sha256_hex(text: str) -> str:
    """Lowercase hex SHA-256 of the UTF-8 bytes of `text`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_once(value: str, normalize: Callable[[str], str]) -> str:
    """Normalize then hash `value`, or pass an already hashed value through (lowercased).

    >>> hash_once(" A@B.co ", str.lower) == hash_once(hash_once("a@b.co", str.lower), str.lower)
    True
    """
    stripped = value.strip()
    if is_sha256_hex(stripped):
        return stripped.lower()
    return sha256_hex(normalize(stripped))
