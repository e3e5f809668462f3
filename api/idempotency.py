"""`Idempotency-Key` as payment APIs do it: the first answer is stored and replayed.

A request sent with a key claims it (one row per tenant and key, in the metadata database,
so every API replica sees it). Its answer is stored together with its ledger record in one
transaction; a retry of the same request within KEY_LIFETIME gets that stored answer back,
byte for byte, with `Idempotent-Replayed: true`, and is not billed again. The same key sent
with a different request is refused (422), as is a retry while the first request is still
being answered (409). A key whose lifetime is over starts afresh: a new answer, billed under
a new delivery id. A request that fails releases its key; one whose process died is taken
over once its lease (PENDING_LEASE) lapses, under the same delivery id, so it is billed once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import Request, Response
from sqlalchemy import Engine, and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from api.errors import ApiError
from tollgate.clock import utcnow
from tollgate.db.access_models import IdempotentAnswer
from tollgate.usage import Delivery, idempotent_delivery_id, insert_deliveries

log = logging.getLogger("tollgate.api")
KEY_LIFETIME = timedelta(hours=24)
PENDING_LEASE = timedelta(seconds=30)
REPLAYED_HEADER = "Idempotent-Replayed"
_T = IdempotentAnswer.__table__
_ID_WIDTH = 128


def fingerprint(request: Request, schema_version: str) -> str:
    """What was asked: method, path, query, schema version and body (POST queries)."""
    asked = [
        request.method,
        request.url.path,
        sorted(request.query_params.multi_items()),
        schema_version,
        # Starlette keeps the body it read for the route; GETs have none.
        getattr(request, "_body", b"").decode("utf-8", "replace"),
    ]
    return hashlib.sha256(json.dumps(asked).encode()).hexdigest()


def _delivery_id(tenant_id: str, key: str) -> str:
    nonce = uuid.uuid4().hex[:12]
    delivery_id = f"{idempotent_delivery_id(tenant_id, key)}:{nonce}"
    if len(delivery_id) > _ID_WIDTH:  # a long key: still one id per key and lifetime
        digest = hashlib.sha256(key.encode()).hexdigest()[:48]
        delivery_id = f"{idempotent_delivery_id(tenant_id, digest)}:{nonce}"
    return delivery_id


@dataclass
class Claim:
    """A key held by this request (`stored` None), or the stored answer to replay."""

    store: IdempotencyStore
    tenant_id: str
    key: str
    delivery_id: str
    stored: Any = None

    def replay(self) -> Response:
        row = self.stored
        headers = {**(row.headers or {}), REPLAYED_HEADER: "true"}
        return Response(row.body, status_code=row.status_code, headers=headers,
                        media_type="application/json")  # fmt: skip

    def complete(self, body: bytes, headers: dict[str, str], delivery: Delivery | None):
        """Store the answer and record its delivery, atomically; returns the receipt."""
        self.store.complete(self, body, headers, delivery)
        return _StoredReceipt(self, delivery)

    def release(self) -> None:
        self.store.release(self)


class _StoredReceipt:
    """The delivery is already committed with the stored answer; voiding it also drops the
    stored answer, so a retry is answered (and billed) anew rather than replayed for free."""

    def __init__(self, claim: Claim, delivery: Delivery | None) -> None:
        self.claim, self.delivery = claim, delivery

    async def durable(self) -> None:
        return None

    async def void(self) -> None:
        await asyncio.to_thread(self.claim.store.void, self.claim, self.delivery)


class IdempotencyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _key(self, tenant_id: str, key: str):
        return and_(_T.c.tenant_id == tenant_id, _T.c.key == key)

    def claim(self, tenant_id: str, key: str, asked: str) -> Claim:
        """Hold `key` for this request, or return the stored answer to replay; raises 422
        for a different request under the same key, 409 while another is answering it."""
        now = utcnow()
        fresh = {
            "fingerprint": asked,
            "state": "pending",
            "delivery_id": _delivery_id(tenant_id, key),
            "status_code": None,
            "headers": None,
            "body": None,
            "created_at": now,
            "locked_until": now + PENDING_LEASE,
            "expires_at": now + KEY_LIFETIME,
        }
        with self.engine.begin() as conn:
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            inserted = conn.execute(
                insert(_T).values(tenant_id=tenant_id, key=key, **fresh).on_conflict_do_nothing()
            )
            if inserted.rowcount == 1:
                return Claim(self, tenant_id, key, fresh["delivery_id"])
            # The key's lifetime is over: it starts afresh, a new delivery.
            renewed = conn.execute(
                update(_T).where(self._key(tenant_id, key), _T.c.expires_at <= now).values(**fresh)
            )
            if renewed.rowcount == 1:
                return Claim(self, tenant_id, key, fresh["delivery_id"])
            row = conn.execute(select(_T).where(self._key(tenant_id, key))).first()
            if row is None:  # deleted since (a failed request released it): try again
                raise _in_use()
            if row.fingerprint != asked:
                raise ApiError(
                    422,
                    "idempotency_key_reused",
                    "this Idempotency-Key was sent with a different request; use a new key",
                    {"expires_at": row.expires_at.isoformat()},
                )
            if row.state == "done":
                return Claim(self, tenant_id, key, row.delivery_id, stored=row)
            # Pending: being answered, or its process died (then taken over, same delivery id).
            taken = conn.execute(
                update(_T)
                .where(self._key(tenant_id, key), _T.c.state == "pending")
                .where(_T.c.locked_until <= now)
                .values(locked_until=now + PENDING_LEASE)
            )
            if taken.rowcount == 1:
                return Claim(self, tenant_id, key, row.delivery_id)
        raise _in_use()

    def complete(
        self, claim: Claim, body: bytes, headers: dict[str, str], delivery: Delivery | None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(_T)
                .where(self._key(claim.tenant_id, claim.key))
                .where(_T.c.delivery_id == claim.delivery_id)
                .values(state="done", status_code=200, headers=headers, body=body)
            )
            if delivery is not None:
                insert_deliveries(conn, [delivery])

    def release(self, claim: Claim) -> None:
        """Free the key of a request that failed (nothing was delivered or billed)."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(_T)
                .where(self._key(claim.tenant_id, claim.key), _T.c.state == "pending")
                .where(_T.c.delivery_id == claim.delivery_id)
            )

    def void(self, claim: Claim, delivery: Delivery | None) -> None:
        """The answer was not sent: reverse its delivery and forget the stored answer."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(_T).where(
                    self._key(claim.tenant_id, claim.key), _T.c.delivery_id == claim.delivery_id
                )
            )
            if delivery is not None:
                insert_deliveries(conn, [delivery.reversal()])

    def purge_expired(self) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(_T).where(_T.c.expires_at <= utcnow())).rowcount


async def purge_expired_keys(store: IdempotencyStore, every_seconds: float = 600.0) -> None:
    """Delete stored answers past their lifetime, every `every_seconds`, for good."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await asyncio.to_thread(store.purge_expired)
        except Exception:  # a busy or unreachable database: next round
            log.warning("purging expired idempotency keys failed", exc_info=True)


def _in_use() -> ApiError:
    return ApiError(
        409,
        "idempotency_key_in_use",
        "a request with this Idempotency-Key is still being answered; retry shortly",
        headers={"Retry-After": "1"},
    )
