"""The buyer portal in a real headless Chromium: sign in, browse, query, keys, usage, exports,
invoices and their deliveries, sign out. One API server and one browser for the module; the
tests run in order, as one buyer's visit. Every page is screenshotted under the module's
temporary directory, has a label for every field, and loads nothing but the API's own files.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from apiworld import World, auth, behavior_row, free_port, risk_row
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import func, select

from api.main import create_app
from tollgate.admin_links import mint_admin_token
from tollgate.billing import invoice_month
from tollgate.clock import utcnow
from tollgate.db.migrate import upgrade
from tollgate.db.models import UsageRecord
from tollgate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BEHAVIOR, RISK = "customer-behavior-daily", "transaction-risk"
WAIT_SECONDS = 30


class Visit:
    """What the module's tests share: the API, the browser, the buyer and its screenshots."""

    def __init__(self, url: str, browser, world: World, shots: Path, downloads: Path):
        self.url, self.browser, self.world = url, browser, world
        self.shots, self.downloads = shots, downloads
        self.tenant_id, self.key = world.tenant("standard")

    def open(self, path: str) -> None:
        self.browser.get(f"{self.url}{path}")

    def find(self, selector: str):
        return self.browser.find_element(By.CSS_SELECTOR, selector)

    def wait_for(self, selector: str, text: str = ""):
        """The first element matching `selector` whose text holds `text`, once there is one."""

        def shown(browser):
            found = browser.find_elements(By.CSS_SELECTOR, selector)
            return next((e for e in found if text in e.text), False)

        return WebDriverWait(self.browser, WAIT_SECONDS, ignored_exceptions=(
            StaleElementReferenceException,)).until(shown)  # fmt: skip

    def page(self, name: str) -> None:
        """Screenshot the page, and check it: labelled fields, nothing from elsewhere."""
        height = self.browser.execute_script("return document.documentElement.scrollHeight")
        self.browser.set_window_size(1280, max(800, min(height + 20, 4000)))
        self.browser.save_screenshot(str(self.shots / f"{name}.png"))
        unlabelled = self.browser.execute_script(
            "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
            ".filter(e => !e.labels || !e.labels.length).map(e => e.name)"
        )
        assert unlabelled == [], f"{name}: fields without a label: {unlabelled}"
        for entry in self.browser.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                requested = message["params"]["request"]["url"]
                if requested.startswith(("http:", "https:")):
                    assert requested.startswith(self.url), f"{name} asked {requested}"


@pytest.fixture(scope="module")
def visit(tmp_path_factory, module_chromium):
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("portal") / "data",
        catalog_path=ROOT / "catalog.yaml",
        _env_file=None,
    )
    upgrade(settings.metadata_db_url)
    world = World(settings)
    world.snapshot(BEHAVIOR, [behavior_row(i, day=1 + i % 5) for i in range(40)])
    world.live_rows(RISK, [risk_row(i) for i in range(5)])
    world.watermark(RISK, utcnow())
    app = create_app(settings)
    # Revocation applies at once here (the API's credential cache holds rows one second).
    app.state.services.credentials.ttl_seconds = 0.0
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.1)
    shots = tmp_path_factory.mktemp("portal-screenshots")
    downloads = tmp_path_factory.mktemp("portal-downloads")
    module_chromium.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    try:
        yield Visit(f"http://127.0.0.1:{config.port}", module_chromium, world, shots, downloads)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_sign_in_with_an_api_key(visit):
    visit.open("/portal/usage")
    visit.wait_for("h1", "Sign in")
    visit.find("#api_key").send_keys("tg_not_a_key")
    visit.find("#sign-in-key").click()
    assert "not accepted" in visit.wait_for("#login-error").text
    visit.page("sign-in")
    # By keyboard alone: the skip link first, then the site's name, then the key's field.
    focused = visit.browser.switch_to.active_element
    for expected in ("skip", "brand", "api_key"):
        focused.send_keys(Keys.TAB)
        focused = visit.browser.switch_to.active_element
        assert expected in (focused.get_attribute("class"), focused.get_attribute("id"))
    focused.send_keys(visit.key, Keys.ENTER)
    visit.wait_for("h1", "Usage")  # back where the visit began
    assert visit.tenant_id in visit.find(".who").text


def test_catalog_shows_the_tier_and_what_an_upgrade_unlocks(visit):
    visit.find("nav a[href='/portal/catalog']").click()
    visit.wait_for("h1", "Catalog")
    listed = [
        e.get_attribute("href").rsplit("/", 1)[1]
        for e in visit.browser.find_elements(By.CSS_SELECTOR, ".product h2 a")
    ]
    assert sorted(listed) == sorted(visit.world.catalog.tiers["standard"].products)
    upgrades = visit.find("table").text
    assert "Market trends" in upgrades and "premium" in upgrades
    visit.page("catalog")
    visit.find(f".product h2 a[href='/portal/catalog/{BEHAVIOR}']").click()
    visit.wait_for("h2", "Sample rows")
    body = visit.find("main").text
    assert "Schema versions" in body and "customer_id" in body
    # The sample's days are weeks old: past the product's freshness SLA.
    assert visit.find("#product-status").text.startswith("stale")
    assert len(visit.browser.find_elements(By.CSS_SELECTOR, "table.data tbody tr")) == 3
    visit.page("product")


def test_try_a_query_and_its_curl(visit):
    visit.find("a.button").click()
    visit.wait_for("h1", "Try a query")
    assert Select(visit.find("#product")).first_selected_option.get_attribute("value") == BEHAVIOR
    visit.find("#columns").send_keys("customer_id,page_views")
    visit.find("#sort").send_keys("-page_views")
    limit = visit.find("#limit")
    limit.clear()
    limit.send_keys("5")
    visit.find("#run-query").click()
    visit.wait_for("#query-summary", "5 rows")
    headers = [e.text for e in visit.browser.find_elements(By.CSS_SELECTOR, "#results th")]
    assert headers == ["customer_id", "page_views"]
    curl = visit.find("#curl").text
    assert curl.startswith('curl -H "Authorization: Bearer $TOLLGATE_API_KEY"')
    visit.page("query")
    # The curl asks the API for the same rows.
    url = curl.split("'")[1]
    api = httpx.get(url, headers=auth(visit.key)).json()["data"]
    shown = [
        [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
        for tr in visit.browser.find_elements(By.CSS_SELECTOR, "#results tbody tr")
    ]
    assert shown == [[r["customer_id"], str(r["page_views"])] for r in api]


def test_issue_a_key_then_revoke_it(visit):
    visit.open("/portal/keys")
    visit.find("#key-name").send_keys("nightly job")
    visit.find("#issue-key").click()
    new_key = visit.wait_for("#new-key").text.strip()
    key_id = new_key.split("_")[1]
    visit.page("keys-issued")
    assert httpx.get(f"{visit.url}/v1/products", headers=auth(new_key)).status_code == 200
    visit.open("/portal/keys")  # a reload never shows the secret again
    assert new_key not in visit.browser.page_source
    row = visit.find(f"#key-{key_id}")
    assert "nightly job" in row.text and "active" in row.text
    row.find_element(By.CSS_SELECTOR, "button.danger").click()
    assert "revoked" in visit.wait_for(f"#key-{key_id}", "revoked").text
    visit.page("keys")
    refused = httpx.get(f"{visit.url}/v1/products", headers=auth(new_key))
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "key_revoked")


def test_create_follow_and_download_an_export(visit):
    visit.open("/portal/exports")
    Select(visit.find("#export-product")).select_by_value(BEHAVIOR)
    visit.find("#export-columns").send_keys("customer_id,sessions")
    visit.find("#create-export").click()
    visit.wait_for("#export-status", "succeeded")  # the page follows the job by itself
    visit.page("export")
    visit.find("#download-export").click()
    export_id = visit.find("h1").text.split()[-1]
    downloaded = visit.downloads / f"{export_id}.csv"
    deadline = time.monotonic() + WAIT_SECONDS
    while not downloaded.exists():
        assert time.monotonic() < deadline, "the export was not downloaded"
        time.sleep(0.1)
    lines = downloaded.read_text().splitlines()
    assert lines[0] == '"customer_id","sessions"' and len(lines) == 41
    visit.open("/portal/exports")
    assert export_id in visit.find("#exports").text
    visit.page("exports")


def _ledger_holds(world: World, n: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        with world.meta.connect() as conn:
            if conn.execute(select(func.count()).select_from(UsageRecord)).scalar() >= n:
                return
        time.sleep(0.1)
    raise AssertionError(f"the ledger never held {n} records")


def test_usage_chart_and_headroom(visit):
    _ledger_holds(visit.world, 3)  # the curl's page, the portal's query, the export
    visit.open("/portal/usage")
    assert "requests left this hour" in visit.wait_for("#headroom").text
    bars = visit.browser.find_elements(By.CSS_SELECTOR, "#usage-chart rect")
    assert bars and BEHAVIOR in visit.find("#usage-table").text
    visit.page("usage")


def test_service_levels_against_the_kpis(visit):
    visit.find("nav a[href='/portal/sla']").click()
    assert "p95 latency below 500 ms" in visit.wait_for("#sla-targets").text
    assert visit.find("#sla-table caption").text.startswith("Daily figures")
    visit.page("sla")


def test_invoice_lines_and_their_deliveries(visit):
    month = f"{utcnow():%Y-%m}"
    invoice_month(visit.world.meta, visit.world.catalog, month)
    visit.open("/portal/invoices")
    visit.browser.find_element(By.LINK_TEXT, month).click()
    visit.wait_for("h1", f"Invoice {month}")
    cookies = {c["name"]: c["value"] for c in visit.browser.get_cookies()}
    csv = httpx.get(visit.find("#invoice-csv").get_attribute("href"), cookies=cookies)
    assert csv.status_code == 200 and csv.text.startswith("invoice_id,month,line_no")
    pdf = httpx.get(visit.find("#invoice-pdf").get_attribute("href"), cookies=cookies)
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    visit.page("invoice")
    visit.find("#lines a[aria-label^='Deliveries']").click()
    summary = visit.wait_for("#line-summary").text
    assert "deliver" in summary
    assert len(visit.browser.find_elements(By.CSS_SELECTOR, "#deliveries tbody tr")) >= 1
    visit.page("deliveries")


def test_register_a_webhook_and_read_its_log(visit):
    visit.find("nav a[href='/portal/webhooks']").click()
    visit.find("#webhook-url").send_keys("https://8.8.8.8/tollgate")
    visit.find("input[value='usage.rate_limit.80']").click()
    visit.find("#register-webhook").click()
    assert visit.wait_for("#new-secret").text.startswith("whsec_")
    visit.page("webhooks")
    visit.find("#webhooks tbody a").click()
    assert "Nothing sent yet" in visit.wait_for("#attempts").text
    assert "usage.rate_limit.80" in visit.find("dl.facts").text
    # Not pressed here: the endpoint's address is not a receiver (tests/api/routes/
    # test_webhooks.py sends a test event to one).
    assert visit.find("#send-test button").text == "Send a test event"
    visit.page("webhook")


def test_sign_out(visit):
    visit.find(".signout button").click()
    visit.wait_for("h1", "Sign in")
    visit.open("/portal/keys")
    visit.wait_for("h1", "Sign in")
    assert visit.browser.current_url.endswith("/portal/login?next=/portal/keys")


def test_seller_view_from_a_console_link(visit):
    token = mint_admin_token(visit.world.settings.secret(), "cli:seller")
    visit.open(f"/portal/admin/enter?token={token}")
    visit.wait_for("h1", "Seller view")
    assert BEHAVIOR in visit.find("#revenue").text  # the month invoiced above
    visit.page("seller")
    visit.find(".admin-signout button").click()
    visit.wait_for("h1", "Sign in")
    visit.open("/portal/admin")
    visit.wait_for("h1", "Not found")
