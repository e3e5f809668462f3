"""The stream lane as Dagster sees it: the event source and the live products computed from it.

Bytewax computes these outside Dagster (`python -m streaming`); they are external assets, so
the graph shows where the live products and the landing zone come from (orchestration.lib.
lineage). Their freshness is checked in live/freshness.py.
"""

from __future__ import annotations

import dagster as dg

from orchestration.lib.lineage import EVENT_SOURCE, live_key
from tollgate.catalog import Product, get_catalog
from tollgate.settings import get_settings

GROUP = "live"


def event_source_spec() -> dg.AssetSpec:
    settings = get_settings()
    if settings.kafka_enabled:
        where, kinds = f"the Kafka topic {settings.kafka_input_topic}", {"kafka"}
    else:
        where, kinds = "the synthetic source in the stream lane's process", {"python"}
    return dg.AssetSpec(
        key=EVENT_SOURCE,
        group_name=GROUP,
        kinds=kinds,
        description=f"Customer behaviour events and card transactions, read from {where}.",
    )


def live_spec(product: Product) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=live_key(product),
        deps=[EVENT_SOURCE],
        group_name=GROUP,
        kinds={"bytewax"},
        description=f"{product.title}: computed by the stream lane into the live store.",
        tags={"tollgate/product": product.id},
    )


def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[event_source_spec(), *(live_spec(p) for p in get_catalog().live_products())]
    )
