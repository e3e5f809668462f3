"""Running the batch lane's graph in-process against a temporary data directory."""

from __future__ import annotations

from batchlane import batch_defs, live_defs, run_partition  # noqa: F401 - fixtures
