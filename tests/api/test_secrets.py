"""No secret is ever written anywhere: after a seller's and a buyer's whole day with a real
API process (keys and clients issued, used, mistyped, revoked by id and as the whole key),
neither any table of either database, nor any file of the data directory, nor the API's
log, nor any CLI output but the one that hands the secret over, contains it."""

from __future__ import annotations

import base64
import re
import signal
import time

import httpx
from apiworld import auth, free_port, risk_row, start_api, wait_ready
from sqlalchemy import MetaData, select
from typer.testing import CliRunner

from tollgate.catalog import load_catalog
from tollgate.cli import app as cli
from tollgate.db.engine import make_engine
from tollgate.livestore import LiveStore, upsert
from tollgate.settings import Settings


def _everything_stored(settings: Settings) -> bytes:
    """Every row of every table of both databases, and every file under the data dir."""
    out = []
    for url in (settings.metadata_db_url, settings.live_store_url):
        engine = make_engine(url)
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                out.extend(repr(tuple(row)).encode() for row in conn.execute(select(table)))
        engine.dispose()
    out.extend(p.read_bytes() for p in settings.data_dir.rglob("*") if p.is_file())
    return b"\n".join(out)


def test_no_secret_reaches_any_table_file_or_log(api_settings: Settings):
    env = {
        "TOLLGATE_DATA_DIR": str(api_settings.data_dir),
        "TOLLGATE_CATALOG_PATH": str(api_settings.catalog_path),
    }
    outputs: list[str] = []

    def run(*args: str, handover: bool = False) -> str:
        result = CliRunner().invoke(cli, list(args), env=env)
        if not handover:  # the one output that must show the secret, once
            outputs.append(result.output)
        return result.output

    run("tenants", "create", "acme", "--tier", "premium")
    plaintext = re.search(r"^(tg_\S+)$", run("keys", "issue", "acme", handover=True), re.M)[1]
    key_id, secret = plaintext.split("_")[1], plaintext.split("_", 2)[2]
    handed = run("clients", "create", "acme", handover=True)
    client_id = re.search(r"client_id=(\S+)", handed)[1]
    client_secret = re.search(r"client_secret=(\S+)", handed)[1]
    store = LiveStore(load_catalog(api_settings.catalog_path))
    live = make_engine(api_settings.live_store_url)
    store.create_all(live)
    with live.begin() as conn:
        upsert(conn, store.table("transaction-risk"), [risk_row(1)])
    live.dispose()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Info: the access log too (it names paths, so a secret there would show).
    proc = start_api(api_settings, port, {"TOLLGATE_REDIS_URL": None}, log_level="info")
    try:
        wait_ready(base, proc)
        with httpx.Client(base_url=base, timeout=10) as http:
            lookup = "/v1/live/transaction-risk/tx-00001"
            assert http.get(lookup, headers=auth(plaintext)).status_code == 200
            wrong = f"tg_{key_id}_{secret[::-1]}"
            assert http.get(lookup, headers=auth(wrong)).status_code == 401
            assert http.get(lookup, headers=auth(secret)).status_code == 401  # secret alone
            form = {"grant_type": "client_credentials", "client_id": client_id}
            token = http.post("/v1/oauth/token", data={**form, "client_secret": client_secret})
            assert token.status_code == 200
            bad = http.post("/v1/oauth/token", data={**form, "client_secret": secret})
            assert bad.status_code == 401
            basic = base64.b64encode(f"{client_id}:{client_secret}x".encode()).decode()
            assert (
                http.post(
                    "/v1/oauth/token",
                    data={"grant_type": "client_credentials"},
                    headers={"Authorization": f"Basic {basic}"},
                ).status_code
                == 401
            )
            run("keys", "revoke", plaintext + "x")  # mistyped: refused, not echoed
            run("keys", "revoke", plaintext)  # the whole key, as the demo prints it
            run("clients", "revoke", client_secret)  # the secret by mistake
            run("clients", "revoke", client_id)
            run("keys", "list")
            run("clients", "list", "acme")
            time.sleep(1.1)  # the API re-reads a credential at most once a second
            assert http.get(lookup, headers=auth(plaintext)).status_code == 401
            assert http.get(lookup, headers=auth(token.json()["access_token"])).status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    api_log = proc.stderr.read()
    stored = _everything_stored(api_settings)
    for needle in (secret, client_secret):
        assert needle.encode() not in stored
        assert needle.encode() not in api_log
        assert not [o for o in outputs if needle in o]
    assert key_id.encode() in stored  # the search does see what is there
