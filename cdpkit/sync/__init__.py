"""Sync engine: config, warehouse-side diff and state, delivery with retries, run history."""
