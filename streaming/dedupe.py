"""Event ids seen within a horizon of event time, in bounded and compact memory.

An id is kept as a 64-bit hash (xxh3, stable across processes and restarts) under the hour
of its event time. Hours the watermark has passed are sealed into one sorted array (8
bytes per id, plus 4 for its hour), looked up a batch at a time; hours older than the
horizon are dropped. Memory is therefore proportional to the distinct events of one
horizon, at about 12 bytes each once sealed. Two different ids share a hash with
probability about n^2 / 2^65 (n ids held): for a billion ids held, about 3%, and the cost
of such a collision is one event dropped as a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xxhash

BUCKET_S = 3600.0
_hash = xxhash.xxh3_64_intdigest


def id_hashes(event_ids: list[str]) -> list[int]:
    return list(map(_hash, map(str.encode, event_ids)))


@dataclass(slots=True)
class SeenIds:
    horizon_s: float
    recent: set = field(default_factory=set)  # hashes of hours not yet sealed
    recent_by_bucket: dict = field(default_factory=dict)  # hour -> [hash]
    sealed: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    sealed_bucket: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32))
    sealed_before: int = -(2**31)

    def sealed_hits(self, hashes: list[int]) -> np.ndarray:
        """Whether each hash is among the sealed ones (one vectorised search)."""
        if not len(self.sealed) or not hashes:
            return np.zeros(len(hashes), bool)
        wanted = np.fromiter(hashes, np.uint64, len(hashes))
        at = np.minimum(np.searchsorted(self.sealed, wanted), len(self.sealed) - 1)
        return self.sealed[at] == wanted

    def admit(self, hashes: list[int], times: list[float]) -> list[bool] | None:
        """Hold the ids not held yet (in order, so a repeat within `hashes` is a duplicate
        too); say which were new, or None if all were (the usual case, checked in bulk)."""
        sealed, recent = self.sealed_hits(hashes), self.recent
        if not sealed.any() and recent.isdisjoint(hashes):
            held = len(recent)
            recent.update(hashes)
            if len(recent) - held == len(hashes):
                self._file(hashes, times)
                return None
            recent.difference_update(hashes)  # a repeat within the batch: decide one by one
        new = []
        for h, at, old in zip(hashes, times, sealed, strict=True):
            if old or h in recent:
                new.append(False)
            else:
                self.add(h, at)
                new.append(True)
        return new

    def _file(self, hashes: list[int], times: list[float]) -> None:
        """Put held ids under their hours (mostly all one hour)."""
        first, last = int(min(times) // BUCKET_S), int(max(times) // BUCKET_S)
        if first != last:
            by_bucket = self.recent_by_bucket
            for h, at in zip(hashes, times, strict=True):
                by_bucket.setdefault(int(at // BUCKET_S), []).append(h)
        else:
            self.recent_by_bucket.setdefault(first, []).extend(hashes)

    def add(self, h: int, at: float) -> None:
        self.recent.add(h)
        bucket = int(at // BUCKET_S)
        hashes = self.recent_by_bucket.get(bucket)
        if hashes is None:
            self.recent_by_bucket[bucket] = [h]
        else:
            hashes.append(h)

    def advance(self, watermark: float) -> None:
        """Seal the hours the watermark has passed; forget those past the horizon."""
        seal_before = int(watermark // BUCKET_S)
        if seal_before <= self.sealed_before:
            return
        self.sealed_before = seal_before
        ready = [b for b in self.recent_by_bucket if b < seal_before]
        keep_from = int((watermark - self.horizon_s) // BUCKET_S)
        kept = self.sealed_bucket >= keep_from
        hashes, buckets = [self.sealed[kept]], [self.sealed_bucket[kept]]
        for b in ready:
            moved = self.recent_by_bucket.pop(b)
            self.recent.difference_update(moved)
            if b >= keep_from:
                hashes.append(np.fromiter(moved, np.uint64, len(moved)))
                buckets.append(np.full(len(moved), b, np.int32))
        merged, merged_buckets = np.concatenate(hashes), np.concatenate(buckets)
        order = np.argsort(merged, kind="stable")
        self.sealed, self.sealed_bucket = merged[order], merged_buckets[order]

    def __getstate__(self) -> tuple:
        # Unsealed hours as arrays, not one int object each: a snapshot costs a copy per
        # hour. The `recent` set is exactly their union, so it is rebuilt on restore.
        by_bucket = {b: np.array(hs, np.uint64) for b, hs in self.recent_by_bucket.items()}
        return (self.horizon_s, by_bucket, self.sealed, self.sealed_bucket, self.sealed_before)

    def __setstate__(self, state: tuple) -> None:
        self.horizon_s, by_bucket, self.sealed, self.sealed_bucket, self.sealed_before = state
        self.recent_by_bucket = {b: hs.tolist() for b, hs in by_bucket.items()}
        self.recent = set().union(*self.recent_by_bucket.values())

    def nbytes(self) -> int:
        """Memory held: the sealed arrays, and the unsealed set with its int objects."""
        import sys

        recent = sys.getsizeof(self.recent) + sum(sys.getsizeof(h) for h in self.recent)
        lists = sum(sys.getsizeof(v) for v in self.recent_by_bucket.values())
        return self.sealed.nbytes + self.sealed_bucket.nbytes + recent + lists
