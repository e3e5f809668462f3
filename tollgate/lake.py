"""Where Tollgate's data lives. Every lane asks here; none builds a path by hand.

    <lake>/landing/<dataset>/event_date=YYYY-MM-DD/event_hour=HH/<file>.parquet
    <lake>/quarantine/event_date=YYYY-MM-DD/<file>.jsonl
    <lake>/snapshots/<product>/v000001/{data.parquet, manifest.json}
    <lake>/snapshots/<product>/CURRENT            (names the version readers see)
    <lake>/sharing/<product>/v000001/<view>/{part-00001.parquet, ..., index.json}
    <exports>/<tenant>/<export id>.<format>

Landing files are named by who wrote them and when (`part-<writer>-<epoch>`), so a writer
that replays an epoch after a crash overwrites its own file instead of adding a copy.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from tollgate.manifest import SnapshotManifest
from tollgate.settings import Settings

LANDING_DATASETS = ("behavior_events", "card_transactions")
SNAPSHOT_DATA_FILE = "data.parquet"
SNAPSHOT_MANIFEST_FILE = "manifest.json"
CURRENT_POINTER = "CURRENT"
_VERSION = re.compile(r"^v(\d{6})$")
_SAFE_PART = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Lake:
    root: Path
    exports_root: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> Lake:
        return cls(root=Path(settings.lake_dir), exports_root=Path(settings.exports_dir))

    # -- landing zone ---------------------------------------------------------------
    def landing_dir(self, dataset: str) -> Path:
        if dataset not in LANDING_DATASETS:
            raise ValueError(f"unknown landing dataset {dataset!r}")
        return self.root / "landing" / dataset

    def landing_partition(self, dataset: str, event_date: date, hour: int) -> Path:
        return (
            self.landing_dir(dataset)
            / f"event_date={event_date.isoformat()}"
            / f"event_hour={hour:02d}"
        )

    def landing_file(
        self, dataset: str, event_date: date, hour: int, writer: str, epoch: int
    ) -> Path:
        """One writer's file for one epoch of one hour: deterministic, so replays overwrite."""
        _safe(writer)
        name = f"part-{writer}-{epoch:012d}.parquet"
        return self.landing_partition(dataset, event_date, hour) / name

    def landing_glob(self, dataset: str) -> str:
        """A glob over every landed file of a dataset (for DuckDB `read_parquet`)."""
        return str(self.landing_dir(dataset) / "event_date=*" / "event_hour=*" / "*.parquet")

    def landing_dates(self, dataset: str) -> list[date]:
        base = self.landing_dir(dataset)
        if not base.exists():
            return []
        return sorted(
            date.fromisoformat(p.name.removeprefix("event_date="))
            for p in base.glob("event_date=*")
            if any(p.glob("event_hour=*/*.parquet"))
        )

    # -- quarantine -------------------------------------------------------------------
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    def quarantine_file(self, day: date, writer: str, epoch: int) -> Path:
        _safe(writer)
        return (
            self.quarantine_dir()
            / f"event_date={day.isoformat()}"
            / f"part-{writer}-{epoch:012d}.jsonl"
        )

    # -- published snapshots ----------------------------------------------------------
    def snapshot_root(self, product_id: str) -> Path:
        _safe(product_id)
        return self.root / "snapshots" / product_id

    def snapshot_dir(self, product_id: str, version: str) -> Path:
        if not _VERSION.match(version):
            raise ValueError(f"bad snapshot version {version!r}")
        return self.snapshot_root(product_id) / version

    def snapshot_versions(self, product_id: str) -> list[str]:
        root = self.snapshot_root(product_id)
        if not root.exists():
            return []
        return sorted(
            p.name for p in root.iterdir() if _VERSION.match(p.name) and _manifest(p).exists()
        )

    def next_snapshot_version(self, product_id: str) -> str:
        existing = [int(_VERSION.match(v).group(1)) for v in self._all_versions(product_id)]
        return f"v{max(existing, default=0) + 1:06d}"

    def current_version(self, product_id: str) -> str | None:
        """The version readers see, or None before the first publish."""
        pointer = self.snapshot_root(product_id) / CURRENT_POINTER
        try:
            version = pointer.read_text().strip()
        except FileNotFoundError:
            return None
        return version if _VERSION.match(version) else None

    def current_snapshot(self, product_id: str) -> Path | None:
        version = self.current_version(product_id)
        return self.snapshot_dir(product_id, version) if version else None

    def read_manifest(self, product_id: str, version: str) -> SnapshotManifest:
        return SnapshotManifest.read(_manifest(self.snapshot_dir(product_id, version)))

    def set_current(self, product_id: str, version: str) -> None:
        """Make `version` the one readers see, atomically (write aside, then rename over)."""
        target = self.snapshot_dir(product_id, version)
        if not _manifest(target).exists():
            raise FileNotFoundError(f"{product_id} {version} has no manifest; refusing to publish")
        pointer = self.snapshot_root(product_id) / CURRENT_POINTER
        tmp = pointer.with_name(f".{CURRENT_POINTER}.{os.getpid()}")
        tmp.write_text(version + "\n")
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, pointer)

    def _all_versions(self, product_id: str) -> list[str]:
        root = self.snapshot_root(product_id)
        return [p.name for p in root.iterdir() if _VERSION.match(p.name)] if root.exists() else []

    # -- Delta Sharing files ----------------------------------------------------------
    def sharing_dir(self, product_id: str, version: str, view: str) -> Path:
        """Where a snapshot version's files for one tenant view (`full`, `sample-<n>`) live,
        split by region and day (tollgate.sharing.files)."""
        if not _VERSION.match(version):
            raise ValueError(f"bad snapshot version {version!r}")
        return self.root / "sharing" / _safe(product_id) / version / _safe(view)

    # -- exports ----------------------------------------------------------------------
    def export_file(self, tenant_id: str, export_id: str, fmt: str) -> Path:
        for part in (tenant_id, export_id, fmt):
            _safe(part)
        return self.exports_root / tenant_id / f"{export_id}.{fmt}"


def utc_hour(ts: datetime) -> tuple[date, int]:
    """The landing partition (date, hour) of an event time."""
    ts = ts.astimezone(UTC)
    return ts.date(), ts.hour


def _manifest(version_dir: Path) -> Path:
    return version_dir / SNAPSHOT_MANIFEST_FILE


def _safe(part: str) -> str:
    if not _SAFE_PART.match(part) or part in (".", ".."):
        raise ValueError(f"{part!r} is not safe in a path")
    return part
