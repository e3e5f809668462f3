"""One tenant view on every channel: the tier's delay and sample stated, regions refused alike."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from apiworld import auth, behavior_row, risk_row

from tollgate.clock import utcnow

RISK, BEHAVIOR = "transaction-risk", "customer-behavior-daily"
REGIONS = ["US-West", "US-East", "EU", "APAC"]


@pytest.fixture
def data(world):
    now = utcnow()
    world.live_rows(
        RISK, [risk_row(i, REGIONS[i % 4], at=now - timedelta(hours=2)) for i in range(8)]
    )
    world.watermark(RISK, now)
    world.snapshot(BEHAVIOR, [behavior_row(i, REGIONS[i % 4]) for i in range(40)])


def _view(meta_or_headers) -> tuple:
    if isinstance(meta_or_headers, httpx.Headers):
        return meta_or_headers["X-Data-Delay"], meta_or_headers["X-Data-Sample"]
    return meta_or_headers["delay_seconds"], meta_or_headers["sample_fraction"]


def test_a_trial_answer_states_its_delay_and_sample_on_every_channel(client, server, data, world):
    _, key = world.tenant("trial")
    live = client.get(f"/v1/live/{RISK}", headers=auth(key))
    assert live.status_code == 200 and live.json()["data"]  # rows from two hours ago
    # The product's freshness is the product's; the trial's hour of delay is stated beside it.
    assert _view(live.json()["metadata"]) == (3600, 1.0)  # live rows are not sampled
    assert _view(live.headers) == ("3600", "1")
    batch = client.get(f"/v1/batch/{BEHAVIOR}", headers=auth(key))
    assert _view(batch.json()["metadata"]) == (3600, 0.1)
    assert _view(batch.headers) == ("3600", "0.1")
    export = client.post("/v1/exports", json={"product_id": BEHAVIOR}, headers=auth(key))
    assert export.status_code == 202, export.text
    assert _view(export.json()["metadata"]) == (3600, 0.1) and _view(export.headers) == (
        "3600",
        "0.1",
    )
    again = client.get(f"/v1/exports/{export.json()['id']}", headers=auth(key))
    assert _view(again.json()["metadata"]) == (3600, 0.1)
    with (
        httpx.Client(base_url=server, timeout=10) as http,
        http.stream("GET", f"/v1/live/{RISK}/stream", headers=auth(key)) as push,
    ):
        assert push.status_code == 200 and _view(push.headers) == ("3600", "1")


def test_a_paying_answer_states_no_delay_and_every_row(client, data, world):
    _, key = world.tenant("standard")
    batch = client.get(f"/v1/batch/{BEHAVIOR}", headers=auth(key))
    assert _view(batch.json()["metadata"]) == (0, 1.0) and _view(batch.headers) == ("0", "1")


def _calls(http: httpx.Client, key: str, region: str) -> dict[str, httpx.Response]:
    """The same out-of-scope ask on every channel."""
    h = auth(key)
    return {
        "live": http.get(f"/v1/live/{RISK}", params={"region": region}, headers=h),
        "lookup": http.get(f"/v1/live/{RISK}/tx-00002", params={"region": region}, headers=h),
        "push": http.get(f"/v1/live/{RISK}/stream", params={"region": region}, headers=h),
        "batch": http.get(f"/v1/batch/{BEHAVIOR}", params={"region": region}, headers=h),
        "batch filter": http.get(
            f"/v1/batch/{BEHAVIOR}", params={"filter": f"region:eq:{region}"}, headers=h
        ),
        "batch post": http.post(
            f"/v1/batch/{BEHAVIOR}",
            json={"filters": [{"column": "region", "op": "in", "value": ["EU", region]}]},
            headers=h,
        ),
        "export": http.post(
            "/v1/exports", json={"product_id": BEHAVIOR, "region": region}, headers=h
        ),
        "export filter": http.post(
            "/v1/exports", json={"product_id": BEHAVIOR, "filters": {"region": region}}, headers=h
        ),
    }


@pytest.mark.parametrize(
    ("region", "status", "code"),
    [("US-East", 403, "region_not_allowed"), ("Mars", 400, "unknown_region")],
)
def test_an_out_of_region_ask_gets_one_answer_on_every_channel(
    server, data, world, region, status, code
):
    _, key = world.tenant("standard", regions=["EU"])
    with httpx.Client(base_url=server, timeout=10) as http:
        answers = _calls(http, key, region)
    errors = {name: (r.status_code, r.json()["error"]) for name, r in answers.items()}
    first = errors["live"]
    assert first[0] == status and first[1]["code"] == code
    assert {name: e for name, e in errors.items() if e != first} == {}
