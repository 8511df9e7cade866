"""Unique, opaque, deterministic ids: bijections of (person index, sequence), no shared counter."""

from __future__ import annotations

import random
from typing import Final

MAX_PEOPLE: Final = 10_000_000
"""Id widths below are sized for this many people."""

_M48: Final = (1 << 48) - 1
_M32: Final = (1 << 32) - 1
EVENT_SEQ_BITS: Final = 20
"""Up to about a million events per person; the id is a bijection of (index << 20 | seq),
which fits 48 bits for MAX_PEOPLE."""


def mix32(x: int) -> int:
    """A bijection on 32-bit ints (odd multiplies and xor-shifts are invertible)."""
    x = (x * 0x7FEB352D) & _M32
    x ^= x >> 15
    x = (x * 0x846CA68B) & _M32
    return x ^ (x >> 16)


def feistel(x: int, digits: int, key: int) -> int:
    """A keyed bijection on [0, 10**digits) (balanced decimal Feistel network, even digits)."""
    half = 10 ** (digits // 2)
    left, right = divmod(x, half)
    for r in range(4):
        left, right = right, (left + mix32((right ^ key) + r * 0x9E37) % half) % half
    return left * half + right


def event_base(index: int) -> int:
    """First pre-mix event number of a person; add the person's event sequence to it."""
    return index << EVENT_SEQ_BITS


def event_id(n: int) -> str:
    """`evt_` + 12 hex digits of a 48-bit bijection of n (odd multiplies, xor-shifts)."""
    x = (n * 0x9E3779B97F4B) & _M48
    x ^= x >> 23
    x = (x * 0xBF58476D1CE5) & _M48
    return f"evt_{x ^ (x >> 25):012x}"


def order_id(index: int, seq: int) -> str:
    """`ORD-` + 12 digits, unique per (person, order sequence < 128)."""
    return f"ORD-{feistel(index * 128 + seq, 12, 0x51ED):012d}"


def user_id(index: int) -> str:
    """`usr_` + 8 hex digits of a 32-bit bijection of the person index."""
    return f"usr_{mix32(index + 0x2545F491):08x}"


def crm_id(index: int, duplicate: int) -> str:
    """`CRM-` + 8 digits; `duplicate` (0 or 1) numbers a second contact record of the person."""
    return f"CRM-{feistel(index * 2 + duplicate, 8, 0xC0FFEE):08d}"


def loyalty_id(index: int) -> str:
    """`LOY-` + 10 digits, one loyalty card per person."""
    return f"LOY-{feistel(index, 10, 0x10A17):010d}"


def uuid4(rng: random.Random, upper: bool = False) -> str:
    """A version-4-shaped UUID drawn from the person's generator (122 random bits)."""
    h = f"{rng.getrandbits(128) & ~(0xF << 76) & ~(0x3 << 62) | (0x4 << 76) | (0x2 << 62):032x}"
    text = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return text.upper() if upper else text


def hex_id(rng: random.Random, digits: int = 16) -> str:
    """A random lowercase hex id (Android-style device ids)."""
    return f"{rng.getrandbits(4 * digits):0{digits}x}"
