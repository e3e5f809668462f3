"""The landing zone: what the stream lane lands per dataset, and a sensor for new or late days."""

import hashlib
import json

import dagster as dg

from orchestration.defs.resources import TollgateResource
from orchestration.lib.landing_scan import changed_partitions, partition_fingerprints
from orchestration.lib.lineage import EVENT_SOURCE, landing_key
from tollgate.lake import LANDING_DATASETS

BATCH_JOB = "batch_lane"


def landing_spec(dataset: str) -> dg.AssetSpec:
    """Written by the stream lane (Bytewax) from the validated, deduplicated events: beside
    the live products, not from them."""
    return dg.AssetSpec(
        key=landing_key(dataset),
        deps=[EVENT_SOURCE],
        group_name="landing",
        kinds={"bytewax", "parquet"},
        description=f"Parquet the stream lane lands for {dataset}, by event_date/event_hour.",
    )


ACTIVE_RUN_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def window_request(days: list[str], fingerprints: dict[str, str]) -> dg.RunRequest:
    """One run over the smallest window holding every changed day (a single dbt invocation)."""
    key = hashlib.sha256(
        json.dumps({d: fingerprints[d] for d in days}, sort_keys=True).encode()
    ).hexdigest()[:16]
    return dg.RunRequest(
        run_key=f"landing:{days[0]}..{days[-1]}:{key}",
        tags={
            "dagster/asset_partition_range_start": days[0],
            "dagster/asset_partition_range_end": days[-1],
        },
    )


# Today's partition gains landing files all day. Rebuilding it every minute kept a core busy
# with run start-ups (each run loads the code location) for daily products whose SLA is a
# day; every five minutes, late days still land in the warehouse within minutes.
REBUILD_INTERVAL_SECONDS = 300


@dg.sensor(
    job_name=BATCH_JOB,
    minimum_interval_seconds=REBUILD_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def landing_partitions_sensor(context: dg.SensorEvaluationContext, tollgate: TollgateResource):
    """Rebuild the days whose landed files are new or changed since the last look (late too).

    DuckDB has one writer per warehouse file, so while a batch run is active the sensor
    waits instead of starting a second writer; the changes are picked up on a later tick.
    """
    active = context.instance.get_runs(
        dg.RunsFilter(job_name=BATCH_JOB, statuses=ACTIVE_RUN_STATUSES), limit=1
    )
    if active:
        return dg.SkipReason(f"batch run {active[0].run_id} is still writing the warehouse")
    previous = json.loads(context.cursor) if context.cursor else {}
    current = partition_fingerprints(tollgate.lake())
    days = changed_partitions(previous, current)
    context.update_cursor(json.dumps(current))
    if not days:
        return dg.SkipReason("no new or late landing files")
    return dg.SensorResult(run_requests=[window_request(days, current)])


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[landing_spec(d) for d in LANDING_DATASETS],
        sensors=[landing_partitions_sensor],
    )
