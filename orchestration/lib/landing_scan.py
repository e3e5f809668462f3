"""What the landing zone holds, per daily partition, so new and late data can be noticed."""

from __future__ import annotations

import hashlib
from collections import defaultdict

from tollgate.lake import LANDING_DATASETS, Lake


def partition_fingerprints(
    lake: Lake, datasets: tuple[str, ...] = LANDING_DATASETS
) -> dict[str, str]:
    """event_date -> a fingerprint of every landed file of that day (name, size, mtime).

    A late file, or a replayed epoch that rewrites a file, changes its day's fingerprint.
    """
    files: dict[str, list[str]] = defaultdict(list)
    for dataset in datasets:
        base = lake.landing_dir(dataset)
        if not base.exists():
            continue
        for path in base.glob("event_date=*/event_hour=*/*.parquet"):
            day = path.parent.parent.name.removeprefix("event_date=")
            stat = path.stat()
            files[day].append(f"{path.relative_to(lake.root)}:{stat.st_size}:{stat.st_mtime_ns}")
    return {
        day: hashlib.sha256("\n".join(sorted(entries)).encode()).hexdigest()[:16]
        for day, entries in sorted(files.items())
    }


def changed_partitions(previous: dict[str, str], current: dict[str, str]) -> list[str]:
    """Days new or changed since `previous` (days that vanished are not rebuilt)."""
    return sorted(day for day, fp in current.items() if previous.get(day) != fp)
