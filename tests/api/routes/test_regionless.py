"""Products without a region column: a region filter is a 400, and catalog `residency`
decides whether a region-restricted tenant may read them, alike on every channel."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml
from apiworld import auth, behavior_row, risk_row

from tollgate.clock import utcnow
from tollgate.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
RISK, BEHAVIOR = "transaction-risk", "customer-behavior-daily"
REGIONS = ["US-West", "US-East", "EU", "APAC"]


@pytest.fixture(params=[False, True], ids=["open", "residency"])
def settings(tmp_path: Path, request) -> Settings:
    """The catalog with a live and a batch product that name no region column."""
    doc = yaml.safe_load((ROOT / "catalog.yaml").read_text())
    for product in doc["products"]:
        if product["id"] in (RISK, BEHAVIOR):
            product.pop("region_column")
            product["residency"] = request.param
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return Settings(data_dir=tmp_path / "data", catalog_path=path, _env_file=None)


@pytest.fixture
def data(world):
    world.live_rows(RISK, [risk_row(i, REGIONS[i % 4], at=utcnow()) for i in range(8)])
    world.watermark(RISK, utcnow())
    world.snapshot(BEHAVIOR, [behavior_row(i, REGIONS[i % 4]) for i in range(40)])


def _channels(http: httpx.Client, key: str, region: str | None) -> dict[str, httpx.Response]:
    params = {"region": region} if region else {}
    h = auth(key)
    export = {"product_id": BEHAVIOR, **params}
    answers = {
        "live": http.get(f"/v1/live/{RISK}", params=params, headers=h),
        "lookup": http.get(f"/v1/live/{RISK}/tx-00003", params=params, headers=h),
        "batch": http.get(f"/v1/batch/{BEHAVIOR}", params=params, headers=h),
        "export": http.post("/v1/exports", json=export, headers=h),
    }
    with http.stream("GET", f"/v1/live/{RISK}/stream", params=params, headers=h) as push:
        push.read() if push.status_code != 200 else None
        answers["push"] = push
    return answers


def _errors(answers: dict[str, httpx.Response]) -> dict[str, tuple]:
    return {name: (r.status_code, r.json()["error"]) for name, r in answers.items()}


def _alike(errors: dict[str, tuple]) -> bool:
    """One answer per product: its live channels agree, and so do its batch ones."""
    live = {str(errors[n]) for n in ("live", "lookup", "push")}
    batch = {str(errors[n]) for n in ("batch", "export")}
    return len(live) == 1 and len(batch) == 1


def test_a_region_filter_is_a_400_that_says_so_on_every_channel(server, data, world):
    _, key = world.tenant("standard")
    with httpx.Client(base_url=server, timeout=10) as http:
        errors = _errors(_channels(http, key, "EU"))
    assert {e[0] for e in errors.values()} == {400}
    assert {e[1]["code"] for e in errors.values()} == {"region_not_applicable"}
    assert _alike(errors)


def test_residency_decides_for_a_region_restricted_tenant_on_every_channel(
    server, data, world, settings
):
    residency = world.catalog.product(RISK).residency
    _, key = world.tenant("standard", regions=["EU"])
    with httpx.Client(base_url=server, timeout=10) as http:
        answers = _channels(http, key, None)
    if residency:
        errors = _errors(answers)
        assert {e[0] for e in errors.values()} == {403}
        assert {e[1]["code"] for e in errors.values()} == {"region_not_allowed"}
        assert _alike(errors)
        return
    assert {name: r.status_code for name, r in answers.items()} == {
        "live": 200,
        "lookup": 200,
        "batch": 200,
        "export": 202,
        "push": 200,
    }
    # Not under residency: every row, and the answer covers every region (no echo of a filter).
    assert {r["region"] for r in answers["batch"].json()["data"]} == set(REGIONS)
    assert answers["lookup"].json()["data"]["region"] == "APAC"
    for name in ("live", "batch"):
        assert answers[name].json()["metadata"]["coverage"]["regions"] == REGIONS
    assert answers["export"].json()["metadata"]["regions"] == REGIONS
