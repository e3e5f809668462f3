"""Process settings for running the live lane: garbage collection, and stopping on signals.

The flow holds many long-lived objects (per-customer profiles, dedupe ids, open windows)
and allocates an event object per input line. With CPython's default collector thresholds
(a young-generation pass every 700 allocations), the cyclic GC rescans that state over and
over; measured, it cost more than parsing and scoring together. The flow creates no
reference cycles on its hot path, so collecting rarely is safe.
"""

from __future__ import annotations

import gc
import signal
import threading

YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Collect rarely, and never rescan what was loaded at start-up."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 100)


# Set by SIGTERM or SIGINT: sources end their input at the next batch, so the dataflow
# drains, takes its final snapshot and exits 0; stateful steps then publish nothing more
# (their windows are not complete, only paused). A second signal stops at once.
_stopping = threading.Event()


def stopping() -> bool:
    return _stopping.is_set()


def stop_gracefully_on_signals() -> None:
    def handler(signum, frame) -> None:
        if _stopping.is_set():
            raise KeyboardInterrupt
        _stopping.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
