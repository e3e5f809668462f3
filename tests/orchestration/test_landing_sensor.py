"""New and late landing partitions trigger a rebuild of their day, once."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg
import pytest
from landed import land_rows

from orchestration.defs.landing import landing_partitions_sensor
from orchestration.defs.resources import TollgateResource
from orchestration.lib.landing_scan import changed_partitions, partition_fingerprints
from tollgate.lake import Lake


@pytest.mark.parametrize(
    ("previous", "current", "changed"),
    [
        ({}, {"2026-11-20": "a"}, ["2026-11-20"]),
        ({"2026-11-20": "a"}, {"2026-11-20": "a"}, []),
        ({"2026-11-20": "a"}, {"2026-11-20": "b", "2026-11-21": "c"}, ["2026-11-20", "2026-11-21"]),
        ({"2026-11-20": "a", "2026-11-21": "c"}, {"2026-11-21": "c"}, []),
    ],
)
def test_changed_partitions(previous, current, changed):
    assert changed_partitions(previous, current) == changed


def _row(event_id: str, at: datetime) -> dict:
    return {
        "event_id": event_id,
        "event_type": "page_view",
        "customer_id": "c-1",
        "region": "EU",
        "event_at": at,
        "session_id": "s",
        "device_id": "d",
        "category": "books",
        "product_sku": "b-1",
    }


def _tick(settings, cursor, instance=None):
    """(first day, last day) of the requested window, or None, and the new cursor."""
    context = dg.build_sensor_context(
        cursor=cursor,
        resources={"tollgate": TollgateResource.from_settings(settings)},
        instance=instance or dg.DagsterInstance.ephemeral(),
    )
    result = landing_partitions_sensor(context)
    if isinstance(result, dg.SkipReason):
        return None, context.cursor
    [request] = result.run_requests
    tags = request.tags
    window = (
        tags["dagster/asset_partition_range_start"],
        tags["dagster/asset_partition_range_end"],
    )
    return window, context.cursor


def test_sensor_requests_new_and_late_days(settings):
    lake = Lake.from_settings(settings)
    land_rows(lake, "behavior_events", [_row("e1", datetime(2026, 11, 20, 9, tzinfo=UTC))])
    requested, cursor = _tick(settings, None)
    assert requested == ("2026-11-20", "2026-11-20")
    assert _tick(settings, cursor)[0] is None

    # A late file for an earlier day, and a new day.
    land_rows(
        lake,
        "behavior_events",
        [
            _row("e2", datetime(2026, 11, 20, 23, tzinfo=UTC)),
            _row("e3", datetime(2026, 11, 21, 1, tzinfo=UTC)),
        ],
        writer="late",
    )
    requested, cursor = _tick(settings, cursor)
    assert requested == ("2026-11-20", "2026-11-21")
    assert json.loads(cursor) == partition_fingerprints(lake)


def test_sensor_waits_while_a_batch_run_writes(settings):
    lake = Lake.from_settings(settings)
    land_rows(lake, "behavior_events", [_row("e1", datetime(2026, 11, 20, 9, tzinfo=UTC))])
    instance = dg.DagsterInstance.ephemeral()
    instance.add_run(
        dg.DagsterRun(job_name="batch_lane", run_id="r-active", status=dg.DagsterRunStatus.STARTED)
    )
    requested, cursor = _tick(settings, None, instance)
    # Nothing requested and the cursor not advanced: the day is requested once the run ends.
    assert (requested, cursor) == (None, None)
