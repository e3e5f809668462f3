"""Setup shared by the API benches (bench/api.py, bench/soak.py): a data directory with a
bench tier, a tenant key and live rows, and the servers' lifecycle."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from tollgate.catalog import load_catalog
from tollgate.clock import utcnow
from tollgate.db.engine import make_engine
from tollgate.db.migrate import upgrade
from tollgate.db.models import ApiKey, Tenant
from tollgate.keys import new_api_key
from tollgate.livestore import LiveStore, upsert
from tollgate.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# The API as it is deployed (`python -m api`), one worker; the port goes last.
FULL_SERVER = [
    sys.executable, "-m", "api", "--no-access-log", "--log-level", "warning",
    "--host", "127.0.0.1", "--port",
]  # fmt: skip

PRODUCT = "transaction-risk"
ROWS = 10_000


# -- setup ------------------------------------------------------------------------------
def prepare(data_dir: Path) -> tuple[dict[str, str], str]:
    """A catalog with a bench tier, a migrated metadata DB, a tenant key and live rows."""
    raw = yaml.safe_load((ROOT / "catalog.yaml").read_text())
    raw["tiers"]["bench"] = {
        "title": "Bench",
        "rate_limit_per_hour": 1_000_000_000,
        "cache_ttl_seconds": 0,
        "export_row_cap": 1,
        "sse_connections": 100_000,
        "products": [PRODUCT],
    }
    catalog_path = data_dir / "catalog.yaml"
    catalog_path.write_text(yaml.safe_dump(raw))
    env = {
        **os.environ,
        "TOLLGATE_DATA_DIR": str(data_dir),
        "TOLLGATE_CATALOG_PATH": str(catalog_path),
    }
    settings = Settings(data_dir=data_dir, catalog_path=catalog_path, _env_file=None)
    upgrade(settings.metadata_db_url)
    meta = make_engine(settings.metadata_db_url)
    key = new_api_key()
    with meta.begin() as conn:
        conn.execute(
            Tenant.__table__.insert().values(
                id="bench",
                name="bench",
                tier="bench",
                status="active",
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
        conn.execute(
            ApiKey.__table__.insert().values(
                key_id=key.key_id,
                tenant_id="bench",
                secret_hash=key.secret_hash,
                created_at=utcnow(),
            )
        )
    store = LiveStore(load_catalog(catalog_path))
    live = make_engine(settings.live_store_url)
    store.create_all(live)
    base = datetime(2026, 11, 24, tzinfo=UTC)
    with live.begin() as conn:
        upsert(
            conn, store.table(PRODUCT), [row(i, base + timedelta(seconds=i)) for i in range(ROWS)]
        )
        upsert(
            conn,
            store.watermarks,
            [{"product_id": PRODUCT, "watermark_at": utcnow(), "processed_at": utcnow()}],
        )
    return env, key.plaintext


def row(i: int, at: datetime) -> dict:
    return {
        "transaction_id": f"tx-{i:07d}",
        "customer_id": f"c-{i % 997:05d}",
        "region": ("US-West", "US-East", "EU", "APAC")[i % 4],
        "event_at": at,
        "processed_at": at,
        "amount_cents": 100 + i,
        "merchant_category": "books",
        "fraud_score": (i % 100) / 100,
        "risk_level": "low",
        "risk_reasons": "",
    }


def start_server(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 180  # a loaded machine takes its time importing
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode()[-2000:])
        try:
            asyncio.run(_get_once(port, "/healthz" if "api" in args else "/bare/tx-0000001"))
            return proc
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


async def _get_once(port: int, path: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    writer.close()


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def lookup_path(prefix: str) -> Callable[[int], str]:
    """The i-th request's row: keys spread over the table, the same sequence on both servers."""
    return lambda i: f"{prefix}tx-{(i * 7919) % ROWS:07d}"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
