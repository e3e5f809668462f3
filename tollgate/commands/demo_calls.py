"""Ready-to-paste `curl` calls for `make demo`, and the probes that say when they can answer.

Live calls are printed when the API answers and the stream lane has scored a transaction
(so the lookup names a key that exists); batch and export calls when every batch product
has a published snapshot (tollgate/commands/demo_guide.py follows those steps).
"""

from __future__ import annotations

import urllib.request

from sqlalchemy import select

from tollgate.catalog import Catalog
from tollgate.db.engine import make_engine
from tollgate.livestore import LiveStore
from tollgate.settings import Settings

POLL_SECONDS = 2.0
LOOKUP_PRODUCT = "transaction-risk"
# Region activity is a premium product; initech (premium) may receive US-East and EU only.
PUSH_PRODUCT, PUSH_TENANT, PUSH_REGION = "region-activity", "initech-premium", "EU"
# The standard tier sees every region without the trial tier's delay.
CALLER = "globex-standard"


def api_base(settings: Settings) -> str:
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::") else settings.api_host
    return f"http://{host}:{settings.api_port}"


def latest_key(settings: Settings, catalog: Catalog, product_id: str) -> str | None:
    """The key of the newest record of a live product, or None while there is none."""
    product = catalog.product(product_id)
    table = LiveStore(catalog).table(product_id)
    engine = make_engine(settings.live_store_url)
    try:
        with engine.connect() as conn:
            query = select(table.c[product.key_column]).order_by(
                table.c[product.time_column].desc()
            )
            return conn.execute(query.limit(1)).scalar()
    except Exception:  # the stream lane has not created its tables yet
        return None
    finally:
        engine.dispose()


def api_up(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def live_calls(base: str, keys: dict[str, str], transaction_id: str) -> str:
    caller, pusher = keys[CALLER], keys[PUSH_TENANT]
    stream = f"{base}/v1/live/{PUSH_PRODUCT}/stream?region={PUSH_REGION}"
    return f"""
Live products are ready. Try (copy a line into another terminal):

  # one scored transaction, by its key
  curl -s -H "Authorization: Bearer {caller}" {base}/v1/live/{LOOKUP_PRODUCT}/{transaction_id}
  # the newest transactions, five per page
  curl -s -H "Authorization: Bearer {caller}" "{base}/v1/live/{LOOKUP_PRODUCT}?limit=5"
  # subscribe to region activity as it changes (Server-Sent Events; Ctrl-C to leave)
  curl -N -H "Authorization: Bearer {pusher}" "{stream}"
"""


def batch_calls(base: str, keys: dict[str, str], product_id: str) -> str:
    auth = f'-H "Authorization: Bearer {keys[CALLER]}"'
    create = (
        f"curl -s -X POST {auth} -H 'Content-Type: application/json' "
        f'-d \'{{"product_id":"{product_id}","format":"csv"}}\' {base}/v1/exports'
    )
    download = f"curl -sf {auth} -o export.csv {base}/v1/exports/$EXPORT_ID/download"
    table = f"{CALLER}.share#{CALLER}.batch.{product_id}"
    return f"""
Batch products are published. Try:

  # a batch query on the current snapshot
  curl -s {auth} "{base}/v1/batch/{product_id}?limit=5&sort=-activity_date"
  # a CSV export: create it, wait until it is ready, download it to export.csv
  EXPORT_ID=$({create} | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  until {download}; do sleep 1; done; wc -l export.csv
  # the same rows in pandas over Delta Sharing (needs `pip install delta-sharing`)
  curl -s {auth} {base}/v1/sharing/profile > {CALLER}.share
  python3 -c 'import delta_sharing as d; print(d.load_as_pandas("{table}"))'
  # what these calls cost you so far
  curl -s {auth} {base}/v1/usage
"""
