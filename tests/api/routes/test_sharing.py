"""Delta Sharing against a running API, read by the real `delta-sharing` client in its own
environment (`uv run --isolated --with-requirements sharing_client.txt`, never the
project's lock): tables listed, tables loaded as pandas equal to the tenant's REST batch
rows (a region-restricted tenant, a trial tenant with its delay and sample), versions, hints
that prune files, file URLs refused when tampered with or expired, another tenant's share
refused, and the rows billed once however often they are downloaded."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
import yaml
from apiworld import World, auth, behavior_row, free_port
from sqlalchemy import func, select
from typer.testing import CliRunner

from api.main import create_app
from tollgate.clock import utcnow
from tollgate.db.migrate import upgrade
from tollgate.db.models import UsageRecord
from tollgate.exports import download_params
from tollgate.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
CLIENT = Path(__file__).with_name("sharing_client.py")
CLIENT_REQUIREMENTS = Path(__file__).with_name("sharing_client.txt")
PRODUCT = "customer-behavior-daily"
REGIONLESS = "transaction-insights-history"
REGIONS = ["US-West", "US-East", "EU", "APAC"]


def require(condition: bool, reason: str) -> None:
    """Skip without the client's environment; under CI (`CI=true`) that is a failure."""
    if condition:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI requires it: {reason}")
    pytest.skip(reason)


def _uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


@pytest.fixture(scope="module")
def client_env() -> list[str]:
    """The command that runs a script under the delta-sharing client's own environment."""
    command = [*_uv(), "run", "--isolated", "--no-project"]
    command += ["--with-requirements", str(CLIENT_REQUIREMENTS), "python"]
    probe = subprocess.run(
        [*command, "-c", "import importlib.util as u; assert u.find_spec('delta_sharing')"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    require(probe.returncode == 0, f"no delta-sharing client environment: {probe.stderr[-500:]}")
    return command


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One API process over two published versions of customer-behavior-daily: four regions
    over three past days, plus rows dated tomorrow (a trial's delay hides them)."""
    folder = tmp_path_factory.mktemp("sharing")
    # The catalog, with an older schema version of the product still served (0.9, which
    # names spend_cents `spend`).
    catalog = yaml.safe_load((ROOT / "catalog.yaml").read_text())
    product = next(p for p in catalog["products"] if p["id"] == PRODUCT)
    product["schema_versions"] = [
        {
            "version": "0.9",
            "backward_compatible_until": "2099-12-31",
            "columns": ["customer_day_id", "customer_id", "activity_date", "region", "spend"],
        },
        {
            "version": "1.0",
            "announced": "2026-10-01",
            "backward_compatible_until": "2099-12-31",
            "renames": {"spend": "spend_cents"},
        },
    ]
    # And a product that holds every region in each row (no region column) under residency:
    # not for a region-restricted tenant.
    regionless = next(p for p in catalog["products"] if p["id"] == REGIONLESS)
    regionless.pop("region_column")
    regionless["residency"] = True
    (folder / "catalog.yaml").write_text(yaml.safe_dump(catalog, sort_keys=False))
    settings = Settings(
        data_dir=folder / "data", catalog_path=folder / "catalog.yaml", _env_file=None
    )
    upgrade(settings.metadata_db_url)
    world = World(settings)
    tomorrow = (utcnow() + timedelta(days=1)).date()
    rows = [behavior_row(i, REGIONS[i % 4], day=1 + i % 3) for i in range(400)]
    for row in rows[:40]:  # tomorrow's rows (a day not over, so built_at is now)
        row["activity_date"] = tomorrow
        row["customer_day_id"] = f"{row['customer_id']}@{tomorrow.isoformat()}"
    world.snapshot(PRODUCT, rows[100:200], built_at=utcnow())
    world.snapshot(PRODUCT, rows, built_at=utcnow())
    world.snapshot(REGIONLESS, [_insight_row(i) for i in range(30)], built_at=utcnow())
    app = create_app(settings)
    # Tests change contracts and revoke keys between requests (the TTLs have their tests).
    app.state.services.contracts.ttl_seconds = 0.0
    app.state.services.credentials.ttl_seconds = 0.0
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield world, base_url(port), rows
    finally:
        server.should_exit = True
        thread.join(30)


def base_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def _insight_row(i: int) -> dict:
    return {
        "transaction_id": f"tx-{i:05d}",
        "customer_id": f"c-{i:04d}",
        "region": REGIONS[i % 4],
        "transaction_date": date(2026, 11, 1 + i % 3),
        "transacted_at": datetime(2026, 11, 1 + i % 3, 12, i, tzinfo=UTC),
        "amount_cents": 1000 + i,
        "merchant_category": "books",
        "card_region": "EU",
        "is_geo_mismatch": i % 2 == 0,
        "amount_vs_customer_median": 1.5,
        "risk_score": 0.1,
        "is_confirmed_fraud": False,
    }


@dataclass(frozen=True)
class Buyer:
    tenant: str
    key: str
    profile: str

    @property
    def table(self) -> str:
        return f"{self.tenant}.batch.{PRODUCT}"


@pytest.fixture(scope="module")
def buyers(shared, tmp_path_factory) -> dict[str, Buyer]:
    """Tenants, each with the profile file GET /v1/sharing/profile hands it, saved as a
    buyer would save it."""
    world, base, _ = shared
    folder = tmp_path_factory.mktemp("profiles")
    made = {}
    for name, tier, regions in [
        ("restricted", "standard", ["EU", "APAC"]),
        ("trial", "trial", None),
        ("premium", "premium", None),
        ("intruder", "premium", None),
        ("billed", "standard", ["EU"]),
    ]:
        tenant, key = world.tenant(tier, regions=regions)
        answer = httpx.get(f"{base}/v1/sharing/profile", headers=auth(key))
        assert answer.status_code == 200, answer.text
        path = folder / f"{name}.share"
        path.write_text(answer.text)
        made[name] = Buyer(tenant, key, str(path))
    return made


@pytest.fixture(scope="module")
def answers(client_env, buyers) -> dict:
    """What the real client answered, every job in one run (its imports take seconds)."""
    b = buyers
    jobs = [
        {"name": "restricted-list", "profile": b["restricted"].profile, "list": True},
        {"name": "trial-list", "profile": b["trial"].profile, "list": True},
        {"name": "restricted", "profile": b["restricted"].profile, "table": b["restricted"].table},
        {"name": "trial", "profile": b["trial"].profile, "table": b["trial"].table},
        {"name": "v1", "profile": b["premium"].profile, "table": b["premium"].table,
         "options": {"version": 1}},
        {"name": "v9", "profile": b["premium"].profile, "table": b["premium"].table,
         "options": {"version": 9}},
        {"name": "intruder", "profile": b["intruder"].profile, "table": b["premium"].table},
        {"name": "regionless", "profile": b["premium"].profile,
         "table": f"{b['premium'].tenant}.batch.{REGIONLESS}"},
        {"name": "v0.9", "profile": b["restricted"].profile,
         "table": f"{b['restricted'].table}_v0_9"},
        {"name": "billed-first", "profile": b["billed"].profile, "table": b["billed"].table},
        {"name": "billed-again", "profile": b["billed"].profile, "table": b["billed"].table},
    ]  # fmt: skip
    done = subprocess.run(
        [*client_env, str(CLIENT), json.dumps(jobs)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _rest_rows(base: str, key: str, schema_version: str | None = None) -> list[dict]:
    rows, cursor = [], None
    headers = auth(key)
    if schema_version is not None:
        headers["X-Data-Schema-Version"] = schema_version
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{base}/v1/batch/{PRODUCT}", params=params, headers=headers)
        assert page.status_code == 200, page.text
        rows += page.json()["data"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return rows


def _by_key(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: r["customer_day_id"])


def _all_tables(base: str, buyer: Buyer) -> list[str]:
    answer = httpx.get(
        f"{base}/v1/sharing/shares/{buyer.tenant}/all-tables", headers=auth(buyer.key)
    )
    assert answer.status_code == 200, answer.text
    return [t["name"] for t in answer.json()["items"]]


def test_tables_listed_per_tier(shared, buyers, answers):
    world, base, _ = shared
    restricted, trial = buyers["restricted"], buyers["trial"]
    assert answers["restricted-list"]["shares"] == [restricted.tenant]
    assert answers["restricted-list"]["tables"] == [
        f"{restricted.tenant}.batch.customer-behavior-daily",
        f"{restricted.tenant}.batch.customer-behavior-daily_v0_9",
    ]
    assert REGIONLESS in _all_tables(base, buyers["premium"])
    assert answers["trial-list"]["tables"] == [
        f"{trial.tenant}.batch.customer-behavior-daily",
        f"{trial.tenant}.batch.customer-behavior-daily_v0_9",
    ]
    # market-trends is sold once: not in the share until the tenant bought it.
    buyer = Buyer(*world.tenant("premium"), profile="")
    assert "market-trends" not in _all_tables(base, buyer)
    world.purchase(buyer.tenant, "market-trends")
    assert "market-trends" in _all_tables(base, buyer)


def test_region_restricted_tenant_reads_its_rest_rows(shared, buyers, answers):
    world, base, rows = shared
    got = answers["restricted"]
    assert got["columns"] == [c.name for c in world.catalog.product(PRODUCT).columns]
    shared_rows = _by_key(got["rows"])
    assert shared_rows == _by_key(_rest_rows(base, buyers["restricted"].key))
    assert {r["region"] for r in shared_rows} == {"EU", "APAC"}
    assert len(shared_rows) == sum(r["region"] in ("EU", "APAC") for r in rows)


def test_trial_tenant_reads_its_delayed_sample(shared, buyers, answers):
    _, base, rows = shared
    shared_rows = _by_key(answers["trial"]["rows"])
    assert shared_rows == _by_key(_rest_rows(base, buyers["trial"].key))
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    assert 0 < len(shared_rows) < len(rows) / 4  # a 10% sample
    assert all(r["activity_date"] < tomorrow for r in shared_rows)


def test_an_older_schema_version_is_read_as_rest_serves_it(shared, buyers, answers):
    _, base, _ = shared
    got = answers["v0.9"]
    assert got["columns"] == ["customer_day_id", "customer_id", "activity_date", "region", "spend"]
    rest = _rest_rows(base, buyers["restricted"].key, schema_version="0.9")
    assert _by_key(got["rows"]) == _by_key(rest)
    assert len(rest) > 0


def test_a_product_without_a_region_column_is_read_whole(shared, buyers, answers):
    _, base, _ = shared
    premium = buyers["premium"]
    page = httpx.get(f"{base}/v1/batch/{REGIONLESS}?limit=1000", headers=auth(premium.key))
    assert page.status_code == 200, page.text
    rest = sorted(page.json()["data"], key=lambda r: r["transaction_id"])
    got = sorted(answers["regionless"]["rows"], key=lambda r: r["transaction_id"])
    assert len(got) == 30
    # Timestamps: REST writes RFC 3339 with Z, pandas an ISO time with +00:00.
    for row in rest:
        row["transacted_at"] = row["transacted_at"].replace("Z", "+00:00")
    assert got == rest


def test_a_version_is_read_as_published(shared, buyers, answers):
    _, base, rows = shared
    published = json.loads(json.dumps(rows[100:200], default=str))
    assert _by_key(answers["v1"]["rows"]) == _by_key(published)
    assert answers["v9"] == {"error": "HTTPError", "status": 404}
    premium = buyers["premium"]
    version = httpx.get(
        f"{base}/v1/sharing/shares/{premium.tenant}/schemas/batch/tables/{PRODUCT}/version",
        headers=auth(premium.key),
    )
    assert version.status_code == 200
    assert version.headers["delta-table-version"] == "2"


def _query(base: str, key: str, tenant: str, body: dict) -> tuple[httpx.Response, list[dict]]:
    answer = httpx.post(
        f"{base}/v1/sharing/shares/{tenant}/schemas/batch/tables/{PRODUCT}/query",
        json=body,
        headers=auth(key),
    )
    lines = [json.loads(line) for line in answer.text.splitlines()]
    return answer, [line["file"] for line in lines if "file" in line]


def test_hints_prune_files_and_never_widen_the_view(shared):
    world, base, _ = shared
    tenant, key = world.tenant("premium")
    answer, every = _query(base, key, tenant, {})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    assert answer.headers["delta-table-version"] == "2"
    assert len(every) == 4 * 4  # four regions on four days
    _, eu = _query(base, key, tenant, {"predicateHints": ["region = 'EU'"]})
    regions = {json.loads(f["stats"])["minValues"]["region"] for f in eu}
    assert regions == {"EU"} and len(eu) == 4
    hint = {
        "op": "equal",
        "children": [
            {"op": "column", "name": "region", "valueType": "string"},
            {"op": "literal", "value": "APAC", "valueType": "string"},
        ],
    }
    _, apac = _query(base, key, tenant, {"jsonPredicateHints": json.dumps(hint)})
    assert {json.loads(f["stats"])["maxValues"]["region"] for f in apac} == {"APAC"}
    _, limited = _query(base, key, tenant, {"limitHint": 1})
    assert len(limited) == 1
    eu_tenant, eu_key = world.tenant("standard", regions=["EU"])
    _, widened = _query(base, eu_key, eu_tenant, {"predicateHints": ["region = 'APAC'"]})
    assert widened == []


def test_file_urls_refused_when_tampered_or_expired(shared, tmp_path):
    world, base, _ = shared
    tenant, key = world.tenant("standard", regions=["EU"])
    _, files = _query(base, key, tenant, {})
    url = files[0]["url"]
    assert httpx.get(url).status_code == 200
    # Another file (another region's) under this URL's signature.
    part = re.search(r"/part-(\d{5})\.parquet", url).group(1)
    other = url.replace(f"/part-{part}.", f"/part-{int(part) % 16 + 1:05d}.")
    refused = httpx.get(other)
    assert refused.status_code == 403
    assert refused.json()["errorCode"] == "invalid_signature"
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    path = parts.path.split(f"/v1/sharing/files/{tenant}/", 1)[1].removesuffix(".parquet")
    past = utcnow() - timedelta(seconds=1)
    expired = download_params(world.settings.secret(), path, tenant, past, q["credential"])
    answer = httpx.get(f"{base}{parts.path}", params=expired)
    assert answer.status_code == 403
    assert answer.json()["errorCode"] == "link_expired"
    # A genuine URL stops working when its key is revoked.
    world.revoke(key)
    revoked = httpx.get(url)
    assert revoked.status_code == 403
    assert revoked.json()["errorCode"] == "key_revoked"


def test_another_tenants_share_is_refused(shared, buyers, answers):
    _, base, _ = shared
    owner, intruder = buyers["premium"], buyers["intruder"]
    assert answers["intruder"] == {"error": "HTTPError", "status": 404}
    answer, _ = _query(base, intruder.key, owner.tenant, {})
    assert answer.status_code == 404
    assert answer.json()["errorCode"] == "share_not_found"


def _billed(world: World, tenant: str) -> tuple[int, int, int]:
    """(files, rows, amount in micro-dollars) billed to the tenant through sharing."""
    ledger = UsageRecord.__table__
    with world.meta.connect() as conn:
        return conn.execute(
            select(
                func.count(),
                func.coalesce(func.sum(ledger.c.units), 0),
                func.coalesce(func.sum(ledger.c.units * ledger.c.unit_price_micros), 0),
            ).where(ledger.c.tenant_id == tenant, ledger.c.route == "/v1/sharing/files")
        ).one()


def _written(world: World, tenant: str) -> bool:
    ledger = UsageRecord.__table__
    with world.meta.connect() as conn:
        found = conn.execute(
            select(func.count()).where(
                ledger.c.tenant_id == tenant, ledger.c.route == "/v1/batch/{product_id}"
            )
        ).scalar_one()
    return found > 0


def test_rows_are_billed_once_per_record(shared, buyers, answers):
    world, base, rows = shared
    billed = buyers["billed"]
    first, again = answers["billed-first"]["rows"], answers["billed-again"]["rows"]
    assert len(first) == len(again) > 0
    # A REST answer after the downloads: once it is in the ledger, so is everything before.
    assert httpx.get(f"{base}/v1/batch/{PRODUCT}", headers=auth(billed.key)).status_code == 200
    deadline = time.monotonic() + 30
    while not _written(world, billed.tenant) and time.monotonic() < deadline:
        time.sleep(0.2)
    files, units, micros = _billed(world, billed.tenant)
    eu_rows = sum(r["region"] == "EU" for r in rows)
    assert (files, units) == (4, eu_rows)
    assert micros == eu_rows * 100_000  # $0.10 a record, the export price
    ledger = UsageRecord.__table__
    with world.meta.connect() as conn:
        trails = conn.execute(
            select(
                ledger.c.channel,
                ledger.c.schema_version,
                ledger.c.snapshot_version,
                ledger.c.freshness_seconds,
            ).where(ledger.c.tenant_id == billed.tenant, ledger.c.route == "/v1/sharing/files")
        ).all()
    assert {t[:3] for t in trails} == {("export", "1.0", "v000002")}
    assert all(t.freshness_seconds is not None for t in trails)


def test_cli_profile_opens_the_share(shared, tmp_path):
    world, base, _ = shared
    tenant, _ = world.tenant("standard")
    from tollgate.cli import app

    out = tmp_path / "cli.share"
    env = {
        "TOLLGATE_DATA_DIR": str(world.settings.data_dir),
        "TOLLGATE_CATALOG_PATH": str(world.settings.catalog_path),
    }
    done = CliRunner().invoke(
        app, ["sharing", "profile", tenant, "--output", str(out), "--base-url", base], env=env
    )
    assert done.exit_code == 0, done.output
    profile = json.loads(out.read_text())
    assert profile["endpoint"] == f"{base}/v1/sharing"
    assert oct(os.stat(out).st_mode & 0o777) == "0o600"
    shares = httpx.get(f"{profile['endpoint']}/shares", headers=auth(profile["bearerToken"]))
    assert shares.json()["items"][0]["name"] == tenant


def test_profile_for_an_oauth_token_ends_with_the_token(shared, buyers):
    world, base, _ = shared
    assert "expirationTime" not in json.loads(Path(buyers["restricted"].profile).read_text())
    tenant, _ = world.tenant("standard")
    client_id, secret = world.oauth_client(tenant)
    token = httpx.post(
        f"{base}/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    ).json()["access_token"]
    profile = httpx.get(f"{base}/v1/sharing/profile", headers=auth(token)).json()
    assert profile["bearerToken"] == token
    expires = datetime.fromisoformat(profile["expirationTime"].replace("Z", "+00:00"))
    ttl = world.settings.jwt_ttl_seconds
    assert utcnow() < expires <= utcnow() + timedelta(seconds=ttl)
    shares = httpx.get(f"{profile['endpoint']}/shares", headers=auth(token)).json()
    assert [s["name"] for s in shares["items"]] == [tenant]


def test_profile_for_an_expiring_key_ends_with_the_key(shared):
    world, base, _ = shared
    tenant, _ = world.tenant("standard")
    ends = (utcnow() + timedelta(days=30)).replace(microsecond=0)
    key = world.key(tenant, expires_at=ends)
    profile = httpx.get(f"{base}/v1/sharing/profile", headers=auth(key)).json()
    assert profile["expirationTime"] == ends.isoformat().replace("+00:00", "Z")
