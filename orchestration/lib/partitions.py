"""The batch lane's one partitioning: UTC days of event time, today included."""

from __future__ import annotations

import dagster as dg

# Today's partition exists (end_offset=1) so the demo can build the day still landing.
DAILY = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_offset=1)
