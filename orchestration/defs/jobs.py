"""The batch lane's job: landing -> warehouse -> gates -> published snapshots, per UTC day."""

import dagster as dg

from orchestration.defs.landing import BATCH_JOB
from orchestration.lib.partitions import DAILY

batch_lane = dg.define_asset_job(
    BATCH_JOB,
    selection=dg.AssetSelection.groups(
        "warehouse_staging", "warehouse_intermediate", "warehouse_marts", "published"
    ),
    partitions_def=DAILY,
    description="Build the warehouse for a window of days, gate the marts, publish snapshots.",
    # Every step reads or writes the one warehouse file, so they run one after another
    # anyway; in one process, the run loads the code location once instead of once per step
    # (each load imports dbt, Great Expectations and the catalog: seconds apiece).
    executor_def=dg.in_process_executor,
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        jobs=[batch_lane],
        # Each night, yesterday's partition: late files after that are the sensor's.
        schedules=[
            dg.build_schedule_from_partitioned_job(
                batch_lane, hour_of_day=1, default_status=dg.DefaultScheduleStatus.RUNNING
            )
        ],
    )
