"""API test fixtures: a migrated metadata DB, an app, a client and a `world` to fill."""

from __future__ import annotations

import threading
import time

import pytest
import uvicorn
from apiworld import World, free_port
from fastapi.testclient import TestClient

from api.main import create_app
from tollgate.db.migrate import upgrade
from tollgate.settings import Settings


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    upgrade(settings.metadata_db_url)
    return settings


@pytest.fixture
def world(api_settings: Settings) -> World:
    return World(api_settings)


@pytest.fixture
def app(api_settings: Settings, world: World):
    app = create_app(api_settings)
    # Tests change product status between requests; see test_services for the TTL itself.
    app.state.services.state_ttl_seconds = 0.0
    app.state.services.credentials.ttl_seconds = 0.0
    return app


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def server(app):
    """The app under a real uvicorn server (a push stream never ends: no TestClient)."""
    app.state.services.sse_heartbeat_seconds = 0.3
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)
