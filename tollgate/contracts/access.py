"""What a one-time purchase grants: the snapshot versions published up to its
`updates_until`. After the window the buyer keeps reading the last version it bought."""

from __future__ import annotations

from datetime import datetime

from tollgate.lake import Lake


def published_at(lake: Lake, product_id: str, version: str) -> datetime:
    """When a snapshot version was published (its manifest's `created_at`)."""
    return lake.read_manifest(product_id, version).created_at


def granted(lake: Lake, product_id: str, version: str, updates_until: datetime) -> bool:
    return published_at(lake, product_id, version) <= updates_until


def granted_version(
    lake: Lake, product_id: str, preferred: str | None, updates_until: datetime
) -> str | None:
    """`preferred` (the version the product serves now) if the purchase grants it, else
    the newest version published within the window; None if none is held."""
    if preferred is not None and granted(lake, product_id, preferred, updates_until):
        return preferred
    for version in reversed(lake.snapshot_versions(product_id)):
        if granted(lake, product_id, version, updates_until):
            return version
    return None
