"""What the API writes as it serves the products: the usage ledger and the request log.

Both live in the metadata database and are written by the API, outside Dagster; they are
external assets here so the graph runs on from the products a buyer reads to what billing
and the SLA report compute from those reads.
"""

import dagster as dg

from orchestration.defs.publish import snapshot_key
from orchestration.lib.lineage import REQUEST_LOG, USAGE_LEDGER, live_key
from tollgate.catalog import get_catalog

GROUP = "serving"


def served_products() -> list[dg.AssetKey]:
    """Every product the API delivers: the live store's tables and the published snapshots."""
    catalog = get_catalog()
    return [live_key(p) for p in catalog.live_products()] + [
        snapshot_key(p) for p in catalog.batch_products()
    ]


@dg.definitions
def defs() -> dg.Definitions:
    served = served_products()
    return dg.Definitions(
        assets=[
            dg.AssetSpec(
                key=USAGE_LEDGER,
                deps=served,
                group_name=GROUP,
                kinds={"fastapi", "sql"},
                description="One row per billable delivery (live lookups and pushes, batch "
                "queries, exports), recorded once by the API under its delivery id.",
            ),
            dg.AssetSpec(
                key=REQUEST_LOG,
                deps=served,
                group_name=GROUP,
                kinds={"fastapi", "sql"},
                description="One row per answered API request: tenant, status, latency and "
                "how fresh the delivered data was.",
            ),
        ]
    )
