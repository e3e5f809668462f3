"""Values worked out once per object of a loaded catalog (products, prices), which every
answer asks for again: the objects do not change, so what is derived from them need not."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any


class PerObject:
    """Values by (object, key), made by `make(object, key)` on first use.

    An entry holds its object, so the object's id is not reused while the entry is kept (a
    copy with other fields is another object, with values of its own). Past `kept`
    entries all are dropped: a catalog has few objects, and a reloaded one brings new ones.
    """

    def __init__(self, make: Callable[[Any, Any], Any], kept: int = 1024):
        self.make, self.kept = make, kept
        self._entries: dict[tuple[int, Hashable], tuple[Any, Any]] = {}

    def get(self, obj: Any, key: Hashable = None) -> Any:
        hit = self._entries.get((id(obj), key))
        if hit is None or hit[0] is not obj:
            if len(self._entries) >= self.kept:
                self._entries.clear()
            hit = self._entries[(id(obj), key)] = (obj, self.make(obj, key))
        return hit[1]
