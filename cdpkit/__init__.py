"""cdpkit: a warehouse-native customer data platform toolkit."""

from __future__ import annotations

__version__ = "0.1.0"
