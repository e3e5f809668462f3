"""Asset keys shared by both code locations: one name per place data lives.

Dagster joins assets across code locations by key, so the live location's stream assets and
the batch location's warehouse, ledger and billing assets form one graph in the UI, from the
event source to the invoice:

    events/source -> live_store/<table>       (stream lane: live products)
                  -> landing/<dataset>        (stream lane: validated, deduplicated events)
    landing -> warehouse/<model> -> snapshots/<product>          (batch lane)
    live_store + snapshots -> metadata_db/usage_ledger, metadata_db/request_log   (the API)
    usage_ledger -> usage_daily, tenant_costs, invoices, tenant_margins           (billing)
    request_log -> operations/sla_daily                                           (SLA report)
"""

from __future__ import annotations

import dagster as dg

from tollgate.catalog import Product

EVENT_SOURCE = dg.AssetKey(["events", "source"])
USAGE_LEDGER = dg.AssetKey(["metadata_db", "usage_ledger"])
REQUEST_LOG = dg.AssetKey(["metadata_db", "request_log"])


def live_key(product: Product) -> dg.AssetKey:
    return dg.AssetKey(["live_store", product.source])


def landing_key(dataset: str) -> dg.AssetKey:
    return dg.AssetKey(["landing", dataset])
