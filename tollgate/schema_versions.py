"""Schema versions of a product: the columns each serves, and when each is deprecated,
sunset and retired.

A product's stored data (live tables, published snapshots) always has its newest version's
columns, the catalog's `columns`. An older version states its own column names, and each
later version the renames from its predecessor, so an older version's shape is a projection
of the stored data: its columns, under its names, in its order.

Lifecycle: a version is deprecated from the day its successor is `announced`; it is sunset
at the end of its `backward_compatible_until` day (UTC), and retired from then on. The
newest version is never retired.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

_SCHEMA_VERSION = re.compile(r"^\d+\.\d+$")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


class SchemaVersion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    # The last day this version is served; after it (UTC) the version is retired.
    backward_compatible_until: date | None = None
    # The day this version was announced: its predecessors are deprecated from then.
    announced: date | None = None
    # Its columns, in order; the newest version's default to the product's `columns`.
    columns: list[str] | None = None
    # Columns renamed from the predecessor: {predecessor's name: this version's name}.
    renames: dict[str, str] = {}

    @field_validator("version")
    @classmethod
    def _well_formed(cls, v: str) -> str:
        if not _SCHEMA_VERSION.match(v):
            raise ValueError(f"{v!r} is not MAJOR.MINOR")
        return v

    @property
    def key(self) -> tuple[int, int]:
        major, minor = self.version.split(".")
        return int(major), int(minor)

    @property
    def sunset_at(self) -> datetime | None:
        """When this version stops being served: the end of its last compatible day."""
        if self.backward_compatible_until is None:
            return None
        return _midnight(self.backward_compatible_until + timedelta(days=1))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


class NotHeld(ValueError):
    """Data written in an older schema version lacks columns a newer version serves."""

    def __init__(self, asked: str, held: str, missing: list[str]) -> None:
        super().__init__(
            f"data written in schema version {held} has no {', '.join(map(repr, missing))} "
            f"of version {asked}"
        )
        self.asked, self.held, self.missing = asked, held, missing


@dataclass(frozen=True)
class ServedColumn:
    name: str  # as the version serves it
    stored: str  # as the data read holds it (the newest version's name, or a snapshot's)
    newest: str = ""  # as the newest version (the catalog's `columns`) names it

    def __post_init__(self) -> None:
        if not self.newest:
            object.__setattr__(self, "newest", self.stored)


@dataclass(frozen=True)
class VersionShape:
    """What one schema version of a product serves, and its place in the lifecycle."""

    product_id: str
    version: SchemaVersion
    columns: tuple[ServedColumn, ...]
    current: str  # the product's newest version
    successor: SchemaVersion | None

    @property
    def name(self) -> str:
        return self.version.version

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def identity(self) -> bool:
        """Served as stored: no projection needed."""
        return self.successor is None

    def column(self, name: str) -> ServedColumn | None:
        return next((c for c in self.columns if c.name == name), None)

    def stored(self, name: str) -> str | None:
        """The stored column behind a column this version serves (None: it serves none)."""
        return next((c.stored for c in self.columns if c.name == name), None)

    def project(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A stored row in this version's shape."""
        if self.identity:
            return dict(row)
        return {c.name: row[c.stored] for c in self.columns}

    def held_in(self, held: VersionShape) -> VersionShape:
        """This version read from data written in version `held` (a snapshot published
        before the newest version): the same served columns, read under `held`'s names.
        Raises NotHeld naming the columns `held` does not have."""
        if held.name == self.current:
            return self
        names = {c.stored: c.name for c in held.columns}
        missing = [c.name for c in self.columns if c.stored not in names]
        if missing:
            raise NotHeld(self.name, held.name, missing)
        columns = tuple(ServedColumn(c.name, names[c.stored], c.newest) for c in self.columns)
        return replace(self, columns=columns)

    def deprecated_at(self, now: datetime) -> datetime | None:
        """From when this version is deprecated, once its successor has been announced."""
        if self.successor is None or self.successor.announced is None:
            return None
        at = _midnight(self.successor.announced)
        return at if at <= now else None

    def retired(self, now: datetime) -> bool:
        sunset = self.version.sunset_at
        return self.successor is not None and sunset is not None and now >= sunset

    def headers(self, now: datetime) -> dict[str, str]:
        """RFC 9745 `Deprecation` (@epoch) and RFC 8594 `Sunset` (HTTP-date), from the day
        a successor is announced, with a link to the product's versions."""
        deprecated = self.deprecated_at(now)
        if deprecated is None:
            return {}
        headers = {
            "Deprecation": f"@{int(deprecated.timestamp())}",
            "Link": f'</v1/products/{self.product_id}>; rel="deprecation"',
        }
        if self.version.sunset_at is not None:
            headers["Sunset"] = format_datetime(self.version.sunset_at, usegmt=True)
        return headers


def version_shapes(
    product_id: str, versions: Sequence[SchemaVersion], stored: Sequence[str]
) -> dict[str, VersionShape]:
    """Every version's shape, keyed by version, for a catalog that passed validation."""
    ordered = sorted(versions, key=lambda v: v.key)
    current = ordered[-1].version
    shapes: dict[str, VersionShape] = {}
    for i, v in enumerate(ordered):
        later = ordered[i + 1 :]
        columns = []
        for name in _columns(v, ordered[-1], stored):
            newest = name
            for step in later:
                newest = step.renames.get(newest, newest)
            columns.append(ServedColumn(name, newest))
        successor = later[0] if later else None
        shapes[v.version] = VersionShape(product_id, v, tuple(columns), current, successor)
    return shapes


def _columns(v: SchemaVersion, newest: SchemaVersion, stored: Sequence[str]) -> list[str]:
    if v.columns is not None:
        return list(v.columns)
    return list(stored) if v is newest else []


def schema_versions_fault(
    versions: Sequence[SchemaVersion], stored: Iterable[str], fixed: Iterable[str] = ()
) -> str | None:
    """The first inconsistency among a product's versions, as `schema_versions...: reason`.
    `fixed` columns (key, time, region) are in every version under the same name: every
    snapshot, whatever version wrote it, is read and filtered by them."""
    stored, fixed = list(stored), [c for c in fixed if c]
    names = [v.version for v in versions]
    if len(set(names)) != len(names):
        return "schema_versions: duplicate version"
    if [v.key for v in versions] != sorted(v.key for v in versions):
        return "schema_versions: list versions oldest first"
    newest = versions[-1]
    for i, v in enumerate(versions):
        where = f"schema_versions[{v.version}]"
        if v is newest and v.columns is not None and list(v.columns) != stored:
            return (
                f"{where}.columns: the newest version serves the product's columns, "
                f"in order ({', '.join(stored)})"
            )
        if v is not newest and v.columns is None:
            return f"{where}.columns: required for a version older than {newest.version}"
        columns = _columns(v, newest, stored)
        if len(set(columns)) != len(columns):
            return f"{where}.columns: duplicate column name"
        odd = next((c for c in columns if not _IDENTIFIER.match(c)), None)
        if odd is not None:
            return f"{where}.columns: {odd!r} is not a lower_snake_case identifier"
        for name in fixed:
            if name not in columns:
                return f"{where}.columns: {name!r} (key, time or region column) is missing"
        if i == 0:
            if v.renames:
                return f"{where}.renames: the oldest version has no predecessor to rename from"
            continue
        before = versions[i - 1]
        previous = _columns(before, newest, stored)
        for old, new in v.renames.items():
            if old not in previous:
                return f"{where}.renames: {old!r} is not a column of {before.version}"
            if new not in columns:
                return f"{where}.renames: {new!r} is not a column of {v.version}"
            if old in columns:
                return f"{where}.renames: {old!r} is still a column of {v.version}"
        for name in previous:
            if v.renames.get(name, name) not in columns:
                return (
                    f"schema_versions[{before.version}].columns: {name!r} is not in "
                    f"{v.version} (nor renamed there), so {before.version} cannot be served"
                )
        if v.announced is None:
            return f"{where}.announced: required: {before.version} is deprecated from that day"
        if before.backward_compatible_until is None:
            return (
                f"schema_versions[{before.version}].backward_compatible_until: required once "
                f"{v.version} succeeds it (it is the sunset date)"
            )
        if before.backward_compatible_until < v.announced:
            return (
                f"schema_versions[{before.version}].backward_compatible_until: "
                f"{before.backward_compatible_until} is before its successor {v.version} "
                f"was announced ({v.announced})"
            )
        if before.announced is not None and v.announced < before.announced:
            return f"{where}.announced: before {before.version} was announced"
    return None
