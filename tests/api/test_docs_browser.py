"""/docs and /redoc render in a real headless Chromium that can reach nothing but the API."""

from __future__ import annotations

import json
import threading
import time

import pytest
import uvicorn
from apiworld import free_port
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from api.main import create_app

TITLE = "Tollgate Data API"
WAIT_SECONDS = 60


@pytest.fixture
def api_url(api_settings):
    """The API served over HTTP by uvicorn, in a thread of this process."""
    config = uvicorn.Config(
        create_app(api_settings), host="127.0.0.1", port=free_port(), log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_SECONDS
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _rendered(browser, url: str, selector: str) -> dict[str, str | None]:
    """Open `url` and wait until `selector` shows the API's title. Returns each http(s)
    request the page made, with why it failed before the network (None if it did not)."""
    browser.get(url)
    WebDriverWait(browser, WAIT_SECONDS).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, selector), TITLE)
    )
    sent, blocked = {}, {}
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message["params"]
        if message["method"] == "Network.requestWillBeSent":
            sent[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.loadingFailed":
            blocked[params["requestId"]] = params.get("blockedReason")
    return {u: blocked.get(i) for i, u in sent.items() if u.startswith(("http:", "https:"))}


def _left_the_machine(requests: dict[str, str | None], api_url: str) -> list[str]:
    """Requests to anywhere but the API that the browser did not refuse itself."""
    return [u for u, refused in requests.items() if not u.startswith(api_url) and refused is None]


def test_swagger_ui_renders_every_route_offline(chromium, api_url):
    requests = _rendered(chromium, f"{api_url}/docs", ".swagger-ui .info .title")
    assert len(chromium.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock")) >= 10
    assert f"{api_url}/openapi.json" in requests
    assert _left_the_machine(requests, api_url) == []


def test_redoc_renders_offline(chromium, api_url):
    requests = _rendered(chromium, f"{api_url}/redoc", "h1")
    assert f"{api_url}/static-offline-docs/redoc.standalone.js" in requests
    # ReDoc's bundle asks a CDN for a logo: the page's policy refuses it before the network.
    assert _left_the_machine(requests, api_url) == []
