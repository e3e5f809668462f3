"""A tier's row sample: which of a product's rows a tenant on a sampled tier receives."""

from __future__ import annotations

SAMPLE_BUCKETS = 10_000


def sample_condition(key_sql: str, buckets_param: str) -> str:
    """A tier's row sample as a DuckDB condition: a row is in when its key hashes into the
    first `sample_buckets(fraction)` buckets, so the same rows are in on every page, query
    and export."""
    return f"hash({key_sql}) % {SAMPLE_BUCKETS} < {buckets_param}"


def sample_buckets(fraction: float) -> int:
    return int(fraction * SAMPLE_BUCKETS)
