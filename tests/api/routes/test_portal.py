"""The portal's sessions, forms and tenant walls, over HTTP (the browser tests drive the pages).

Every page of one tenant (its exports, their downloads, its invoices, their CSV and line
deliveries, its keys) is 404 to another tenant, exactly as the API's own routes are.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from apiworld import auth, behavior_row, risk_row
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from api.portal.chart import usage_chart
from api.portal.pdf import LINES_PER_PAGE, render_pdf
from tollgate.billing import invoice_month
from tollgate.billing.costs import CostRates
from tollgate.billing.jobs import attribute_costs, margin_month, rollup_days
from tollgate.cli import app as cli
from tollgate.clock import utcnow
from tollgate.db.models import ApiKey, UsageRecord
from tollgate.keys import parse_api_key
from tollgate.usage import Delivery, write_deliveries

BEHAVIOR = "customer-behavior-daily"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(page) -> str:
    return _CSRF.search(page.text).group(1)


def sign_in(client: TestClient, **credentials: str) -> str:
    """Signs `client` in; returns the session's CSRF token."""
    form = client.get("/portal/login")
    r = client.post(
        "/portal/login", data={"csrf_token": csrf(form), **credentials}, follow_redirects=False
    )
    assert (r.status_code, r.headers["location"]) == (303, "/portal/catalog"), r.text
    return csrf(client.get("/portal/keys"))


def _wait_for_ledger(engine, n: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(select(func.count()).select_from(UsageRecord)).scalar() >= n:
                return
        time.sleep(0.05)
    raise AssertionError(f"the ledger never held {n} records")


def _finished_export(client: TestClient, token: str) -> str:
    r = client.post(
        "/portal/exports",
        data={"csrf_token": token, "product": BEHAVIOR, "format": "csv"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    url = r.headers["location"]
    deadline = time.monotonic() + 20
    while "succeeded" not in client.get(url).text:
        assert time.monotonic() < deadline, "the export never finished"
        time.sleep(0.1)
    return url


def test_pages_need_a_session_and_sign_in_sets_a_safe_cookie(app, client, world):
    _, key = world.tenant("standard")
    r = client.get("/portal/keys", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/portal/login?next=/portal/keys")
    form = client.get("/portal/login")
    assert form.headers["content-security-policy"].startswith("default-src 'self'")
    bad = client.post("/portal/login", data={"csrf_token": csrf(form), "api_key": "tg_nope"})
    assert bad.status_code == 401 and "not accepted" in bad.text
    # Without the form's token (a cross-site post) nothing is checked at all.
    forged = client.post("/portal/login", data={"csrf_token": "x", "api_key": key})
    assert forged.status_code == 403
    r = client.post(
        "/portal/login",
        data={"csrf_token": csrf(form), "api_key": key, "next": "//evil.example/portal/"},
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, "/portal/catalog")
    cookie = r.headers["set-cookie"]
    assert key not in cookie and parse_api_key(key)[1] not in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/portal" in cookie
    assert "Secure" not in cookie  # plain HTTP here; set under TLS
    assert client.get("/portal/catalog").status_code == 200
    tls = TestClient(app, base_url="https://testserver")
    assert "Secure" in tls.get("/portal/login").headers["set-cookie"]


def test_forms_refuse_a_missing_token_or_another_origin(client, world):
    tenant_id, key = world.tenant("standard")
    token = sign_in(client, api_key=key)
    assert client.post("/portal/keys", data={"name": "x"}).status_code == 403
    too_long = client.post("/portal/keys", data={"csrf_token": token, "name": "x" * 201})
    assert too_long.status_code == 422 and "Form not valid" in too_long.text
    missing = client.get("/portal/invoices/2026-13")
    assert missing.status_code == 404 and 'href="/portal/keys"' in missing.text  # with the nav
    other_site = {"Origin": "https://evil.example"}
    r = client.post("/portal/keys", data={"csrf_token": token, "name": "x"}, headers=other_site)
    assert r.status_code == 403
    with world.meta.connect() as conn:
        count = select(func.count()).select_from(ApiKey).where(ApiKey.tenant_id == tenant_id)
        assert conn.execute(count).scalar() == 1


def test_oauth_client_signs_in_and_a_revoked_key_ends_its_session(client, world):
    tenant_id, key = world.tenant("standard")
    client_id, secret = world.oauth_client(tenant_id)
    sign_in(client, client_id=client_id, client_secret=secret)
    assert f"Tenant <strong>{tenant_id}</strong>" in client.get("/portal/catalog").text
    client.cookies.clear()
    sign_in(client, api_key=key)
    world.revoke(key)
    r = client.get("/portal/catalog", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/portal/login?next=/portal/catalog")


def test_every_page_of_one_tenant_is_404_to_another(app, client, world, api_settings):
    world.snapshot(BEHAVIOR, [behavior_row(i) for i in range(12)])
    a_id, a_key = world.tenant("standard")
    _, b_key = world.tenant("standard")
    a_token = sign_in(client, api_key=a_key)
    r = client.post(
        "/portal/query", data={"csrf_token": a_token, "product": BEHAVIOR, "limit": "3"}
    )
    assert r.status_code == 200 and "3 rows" in r.text
    export = _finished_export(client, a_token)
    _wait_for_ledger(world.meta, 2)
    month = f"{utcnow():%Y-%m}"
    invoice_month(world.meta, world.catalog, month)
    a_key_id = a_key.split("_")[1]
    pages = [
        export,
        f"{export}/download",
        f"/portal/invoices/{month}",
        f"/portal/invoices/{month}/invoice.csv",
        f"/portal/invoices/{month}/invoice.pdf",
        f"/portal/invoices/{month}/lines/1",
    ]
    hook = client.post(
        "/portal/webhooks",
        data={"csrf_token": a_token, "url": "https://8.8.8.8/hooks", "event_types": [
            "usage.rate_limit.80", "invoice.issued"]},
    )  # fmt: skip
    assert hook.status_code == 201 and "whsec_" in hook.text
    endpoint = re.search(r'href="(/portal/webhooks/we_[0-9a-f]+)"', hook.text).group(1)
    pages.append(endpoint)
    for url in pages:
        assert client.get(url).status_code == 200, url
    assert "Nothing sent yet" in client.get(endpoint).text
    assert "12 records exported" in client.get(f"/portal/invoices/{month}/lines/1").text

    b = TestClient(app)
    b_token = sign_in(b, api_key=b_key)
    for url in pages:
        assert b.get(url).status_code == 404, url
    revoke = b.post(f"/portal/keys/{a_key_id}/revoke", data={"csrf_token": b_token})
    assert revoke.status_code == 404
    assert b.post(f"{endpoint}/delete", data={"csrf_token": b_token}).status_code == 404
    # Nothing of A's shows on B's own pages either.
    for url in ("/portal/keys", "/portal/exports", "/portal/invoices", "/portal/usage",
                "/portal/webhooks"):  # fmt: skip
        page = b.get(url)
        assert page.status_code == 200 and a_id not in page.text and a_key_id not in page.text
        assert export.rsplit("/", 1)[1] not in page.text
        assert endpoint.rsplit("/", 1)[1] not in page.text
    # A's key and endpoint are still there: B's attempts changed nothing.
    assert client.get("/v1/products", headers=auth(a_key)).status_code == 200
    assert client.get(endpoint).status_code == 200
    # A removes its endpoint; the delivery log stays readable.
    assert client.post(f"{endpoint}/delete", data={"csrf_token": a_token}).status_code == 200
    assert endpoint not in client.get("/portal/webhooks").text
    assert "disabled" in client.get(endpoint).text


def test_usage_chart_stacks_each_days_products_to_scale():
    day = date(2026, 11, 3)
    chart = usage_chart({(day, "b"): 7, (day, "a"): 50}, date(2026, 11, 1), date(2026, 11, 30))
    assert [t[1] for t in chart.ticks] == ["0", "20", "40", "60", "80", "100"]
    a, b = chart.bars
    assert (a.title, b.title) == ("2026-11-03 a: 50 units", "2026-11-03 b: 7 units")
    assert a.height / b.height == pytest.approx(50 / 7)
    assert a.y + a.height == chart.baseline and b.y + b.height == a.y  # stacked
    assert [c for c, _ in chart.legend] == [a.colour, b.colour] and a.colour != b.colour
    empty = usage_chart({}, date(2026, 11, 1), date(2026, 11, 30))
    assert empty.bars == [] and empty.legend == [] and len(empty.days) == 6


def _pdf_objects(pdf: bytes) -> dict[int, bytes]:
    """Each object of `pdf` as its cross-reference table places it (checking the table)."""
    start = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    table = pdf[start:].split(b"trailer")[0].splitlines()
    assert table[0] == b"xref"
    count = int(table[1].split()[1])
    objects = {}
    for n, entry in enumerate(table[3 : 2 + count], start=1):
        offset = int(entry.split()[0])
        assert pdf[offset:].startswith(b"%d 0 obj" % n)
        objects[n] = pdf[offset : pdf.index(b"endobj", offset)]
    return objects


def test_invoice_pdf_is_a_well_formed_pdf_with_every_line():
    lines = [("F2", 16, "Invoice 2026-11 (caf\u00e9)")] + [
        ("F3", 8, f"line {i}") for i in range(LINES_PER_PAGE + 5)
    ]
    pdf = render_pdf(lines, "Invoice acme:2026-11")
    assert pdf.startswith(b"%PDF-1.4") and pdf.endswith(b"%%EOF\n")
    objects = _pdf_objects(pdf)
    pages = [o for o in objects.values() if b"/Type /Page " in o]
    assert len(pages) == 2  # the lines flow onto a second page
    streams = b"".join(o for o in objects.values() if b"stream" in o)
    assert b"(Invoice 2026-11 \\(caf\xe9\\))" in streams  # escaped, WinAnsi
    assert all(b"(line %d)" % i in streams for i in range(LINES_PER_PAGE + 5))


def test_a_live_query_is_the_live_routes_answer_and_bad_input_is_shown(client, world):
    world.live_rows("transaction-risk", [risk_row(i, "EU" if i % 2 else "APAC") for i in range(6)])
    world.watermark("transaction-risk", utcnow())
    _, key = world.tenant("standard", regions=["EU"])
    token = sign_in(client, api_key=key)
    form = {"csrf_token": token, "product": "transaction-risk", "limit": "10"}
    r = client.post("/portal/query", data=form)
    assert r.status_code == 200 and "3 rows" in r.text  # only the tenant's region
    assert "/v1/live/transaction-risk?limit=10&#39;" in r.text
    assert r.text.count("<td>EU</td>") == 3 and "<td>APAC</td>" not in r.text
    bad = client.post("/portal/query", data={**form, "region": "APAC"})
    assert bad.status_code == 403 and "region_not_allowed" in bad.text
    premium = client.post("/portal/query", data={**form, "product": "market-trends"})
    assert premium.status_code == 403 and "available in: premium" in premium.text


OCT = datetime(2026, 10, 5, 12, tzinfo=UTC)


def test_seller_view_shows_revenue_margins_and_flags(client, world, api_settings, monkeypatch):
    paying, _ = world.tenant("standard")
    trial, trial_key = world.tenant("trial")
    deliveries = [
        Delivery(f"{paying}:{i}", paying, "transaction-risk", "query", 1, 800, 5.0, "", OCT)
        for i in range(4)
    ] + [
        Delivery(
            f"{trial}:{i}",
            trial,
            "transaction-risk",
            "query",
            1,
            800,
            5.0,
            "",
            OCT,
            unit_price_micros=0,
            price_basis="trial",
        )  # fmt: skip
        for i in range(2)
    ]
    write_deliveries(world.meta, deliveries)
    rates = CostRates.from_settings(api_settings)
    rollup_days(world.meta, OCT.date(), OCT.date() + timedelta(days=1))
    attribute_costs(world.meta, rates, OCT.date())
    invoice_month(world.meta, world.catalog, "2026-10")
    margin_month(world.meta, rates, "2026-10")

    monkeypatch.setenv("TOLLGATE_DATA_DIR", str(api_settings.data_dir))
    out = CliRunner().invoke(cli, ["portal", "admin-link", "--base-url", "http://testserver"])
    assert out.exit_code == 0, out.output
    link = out.output.split()[0]
    # A buyer's session does not open the seller's view; a forged link does not either.
    sign_in(client, api_key=trial_key)
    assert client.get("/portal/admin").status_code == 404
    assert client.get(link[:-3] + "abc").status_code == 403
    assert client.get(link, follow_redirects=False).headers["location"] == "/portal/admin"
    page = client.get("/portal/admin")
    assert page.status_code == 200
    revenue = page.text.split('id="revenue"')[1].split("</table>")[0]
    assert "transaction-risk" in revenue and "$6.00" in revenue  # 4 x $1.50
    margins = page.text.split('id="margins"')[1].split("</table>")[0]
    rows = {r.split("<th")[1].split(">")[1].split("<")[0]: r for r in margins.split("<tr")[2:]}
    assert "flagged" in rows[trial] and "no revenue" in rows[trial]
    assert "flagged" not in rows[paying] and "$6.00" in rows[paying]
    # The seller sees no buyer pages, and signs out like a buyer.
    assert client.get("/portal/keys", follow_redirects=False).status_code == 303
    form = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post("/portal/logout", data={"csrf_token": form})
    assert client.get("/portal/admin").status_code == 404
    # The link signs in once: found later in a browser's history or a proxy's log, it is dead.
    again = client.get(link, follow_redirects=False)
    assert again.status_code == 403 and "already been used" in again.text
    assert client.get("/portal/admin").status_code == 404


def test_usage_page_shows_the_month_against_the_tiers_quota_and_spend_cap(app, client, world):
    world.snapshot(BEHAVIOR, [behavior_row(i) for i in range(12)])
    tiers = app.state.services.catalog.tiers
    tiers["standard"] = tiers["standard"].model_copy(
        update={"monthly_request_quota": 40, "monthly_spend_cap_usd": 2.0}
    )
    _, key = world.tenant("standard")
    token = sign_in(client, api_key=key)
    assert 'id="monthly"' in client.get("/portal/usage").text
    r = client.post("/portal/query", data={"csrf_token": token, "product": BEHAVIOR, "limit": "5"})
    assert r.status_code == 200
    _wait_for_ledger(world.meta, 1)
    monthly = client.get("/portal/usage").text.split('id="monthly"')[1].split("</ul>")[0]
    # One request of 40; 5 records at $0.10 of a $2 cap.
    assert "<strong>1</strong> of the tier's 40 requests a month used (2.5%)" in monthly
    assert "<strong>$0.50</strong> spent of the tier's $2.00 monthly spend cap (25.0%)" in monthly
