"""One graph from the event source to the invoice, across both code locations."""

from __future__ import annotations

import dagster as dg

from orchestration.lib.lineage import EVENT_SOURCE, REQUEST_LOG, USAGE_LEDGER
from tollgate.catalog import get_catalog
from tollgate.lake import LANDING_DATASETS

BILLING = ("usage_daily", "tenant_costs", "invoices", "tenant_margins")


def _graph(batch_defs: dg.Definitions, live_defs: dg.Definitions):
    # Dagster joins the locations by asset key: together, they are the graph the UI shows.
    both = dg.Definitions(
        assets=[*batch_defs.assets, *live_defs.assets], resources=batch_defs.resources
    )
    return both.resolve_asset_graph()


def _reachable(graph, start: dg.AssetKey) -> set[dg.AssetKey]:
    seen, todo = {start}, [start]
    while todo:
        for child in graph.get(todo.pop()).child_keys:
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def test_every_asset_is_reachable_from_the_event_source(batch_defs, live_defs):
    graph = _graph(batch_defs, live_defs)
    every = set(graph.get_all_asset_keys())
    unreachable = every - _reachable(graph, EVENT_SOURCE)
    assert not unreachable, sorted(k.to_user_string() for k in unreachable)
    # Each asset is defined in one location; the other names it only as a dependency.
    assert not _defined(batch_defs) & _defined(live_defs)


def _defined(defs: dg.Definitions) -> set[dg.AssetKey]:
    return {
        key
        for a in defs.assets or []
        for key in (a.keys if isinstance(a, dg.AssetsDefinition) else [a.key])
    }


def test_the_edges_say_what_feeds_what(batch_defs, live_defs):
    graph = _graph(batch_defs, live_defs)
    catalog = get_catalog()

    def parents(*key: str) -> set[str]:
        return {k.to_user_string() for k in graph.get(dg.AssetKey(list(key))).parent_keys}

    for product in catalog.live_products():
        node = graph.get(dg.AssetKey(["live_store", product.source]))
        assert node.parent_keys == {EVENT_SOURCE}
        assert "bytewax" in node.kinds
    for dataset in LANDING_DATASETS:
        assert parents("landing", dataset) == {"events/source"}
    served = {f"live_store/{p.source}" for p in catalog.live_products()} | {
        f"snapshots/{p.id}" for p in catalog.batch_products()
    }
    assert parents(*USAGE_LEDGER.path) == served
    assert parents(*REQUEST_LOG.path) == served
    for name in BILLING:
        assert USAGE_LEDGER in _ancestors(graph, dg.AssetKey(name)), name
    assert parents("usage_daily") == {"metadata_db/usage_ledger"}
    assert parents("operations", "sla_daily") == {"metadata_db/request_log"}


def _ancestors(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen, todo = set(), [key]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen
