"""The batch lane's Dagster definitions: everything under defs/, one module per concern.

landing.py    the landing zone as observable sources + a sensor for new/late days
dbt.py        the dbt project (staging -> intermediate -> marts) as daily-partitioned assets
quality.py    blocking Great Expectations gates on the sold marts
publish.py    immutable snapshots + the CURRENT swap, per batch product
jobs.py       the batch job and its nightly schedule

The live products' freshness checks are a code location of their own (live_definitions.py).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
