"""The batch lane's Dagster definitions: everything under defs/, one module per concern.

landing.py    the landing zone the stream lane writes + a sensor for new/late days
dbt.py        the dbt project (staging -> intermediate -> marts) as daily-partitioned assets
quality.py    blocking Great Expectations gates on the sold marts
publish.py    immutable snapshots + the CURRENT swap, per batch product
jobs.py       the batch job and its nightly schedule
serving.py    what the API writes: the usage ledger and the request log
billing.py    usage rollups, invoices, cost of serving and margins from the ledger
sla.py        the daily SLA report from the request log

The stream lane's assets and their freshness checks are a code location of their own
(live_definitions.py); orchestration/lib/lineage.py names the keys that join the two.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
