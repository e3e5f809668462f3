"""Process settings for running the live lane.

The flow holds many long-lived objects (per-customer profiles, dedupe ids, open windows)
and allocates an event object per input line. With CPython's default collector thresholds
(a young-generation pass every 700 allocations), the cyclic GC rescans that state over and
over; measured, it cost more than parsing and scoring together. The flow creates no
reference cycles on its hot path, so collecting rarely is safe.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Collect rarely, and never rescan what was loaded at start-up."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 100)
