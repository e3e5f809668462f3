"""Sending webhooks: each pending delivery posted to its endpoint, signed, retried.

An attempt is a POST of the event's stored body with the Standard Webhooks headers:
`webhook-id` (the event's id: the same on every retry), `webhook-timestamp` (this attempt's
time, integer seconds) and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of
`id.timestamp.body` under the endpoint's secret). A 2xx delivers it; anything else (or no
answer within the timeout) is a failure retried after the next delay of the schedule, or
the receiver's Retry-After if longer, until the schedule runs out; 410 Gone disables the
endpoint. Redirects are not followed. Every attempt is logged (`WebhookAttempt`).
"""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta
from typing import NamedTuple

import httpx
from sqlalchemy import Engine, and_, or_, select, update
from standardwebhooks.webhooks import Webhook

from tollgate.clock import utcnow
from tollgate.db.webhook_models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from tollgate.errors import InvalidRequest
from tollgate.settings import Settings
from tollgate.webhooks.addresses import check_url

log = logging.getLogger("tollgate.webhooks")
USER_AGENT = "Tollgate-Webhooks/1"
_D = WebhookDelivery


class Outcome(NamedTuple):
    status_code: int | None
    error: str | None
    retry_after: float | None = None


def signed_headers(secret: str, event_id: str, body: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt made at `at`."""
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, at, body),
    }


class WebhookSender:
    def __init__(self, engine: Engine, settings: Settings, client: httpx.Client | None = None):
        self.engine = engine
        self.settings = settings
        self.schedule = list(settings.webhook_retry_seconds)
        self.client = client or httpx.Client(
            timeout=settings.webhook_timeout_seconds, follow_redirects=False
        )

    def close(self) -> None:
        self.client.close()

    def run_due(self, now: datetime | None = None, limit: int = 50) -> int:
        """Attempt every delivery due by `now` (at most `limit`); how many were attempted."""
        now = now or utcnow()
        attempted = 0
        for event_id, endpoint_id in self._claim(now, limit):
            self._attempt(event_id, endpoint_id)
            attempted += 1
        return attempted

    def _claim(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        free = or_(_D.locked_until.is_(None), _D.locked_until < now)
        due = and_(_D.status == "pending", _D.next_attempt_at <= now, free)
        hold = now + timedelta(seconds=self.settings.webhook_timeout_seconds * 3)
        claimed = []
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(_D.event_id, _D.endpoint_id).where(due).order_by(_D.next_attempt_at)
                .limit(limit)
            ).all()  # fmt: skip
            for event_id, endpoint_id in rows:
                won = conn.execute(
                    update(_D)
                    .where(_D.event_id == event_id, _D.endpoint_id == endpoint_id, due)
                    .values(locked_until=hold)
                ).rowcount
                if won:
                    claimed.append((event_id, endpoint_id))
        return claimed

    def _attempt(self, event_id: str, endpoint_id: str) -> None:
        with self.engine.connect() as conn:
            endpoint = conn.execute(
                select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
            ).first()
            event = conn.execute(select(WebhookEvent).where(WebhookEvent.id == event_id)).first()
            attempts = conn.execute(
                select(_D.attempts).where(_D.event_id == event_id, _D.endpoint_id == endpoint_id)
            ).scalar_one()
        at = utcnow()
        started = time.perf_counter()
        if endpoint is None or event is None or endpoint.disabled_at is not None:
            outcome = Outcome(None, "the endpoint is disabled")
        else:
            outcome = self._post(endpoint.url, endpoint.secret, event_id, event.body, at)
        took = (time.perf_counter() - started) * 1000
        delivered = outcome.status_code is not None and 200 <= outcome.status_code < 300
        attempt = attempts + 1
        gone = outcome.status_code == 410 or outcome.error == "the endpoint is disabled"
        if delivered:
            status, next_at = "delivered", None
        elif gone or attempt > len(self.schedule):
            status, next_at = "failed", None
        else:
            delay = self.schedule[attempt - 1] * random.uniform(1.0, 1.1)  # jitter
            delay = max(delay, outcome.retry_after or 0)
            status, next_at = "pending", at + timedelta(seconds=delay)
        with self.engine.begin() as conn:
            conn.execute(
                WebhookAttempt.__table__.insert().values(
                    endpoint_id=endpoint_id,
                    event_id=event_id,
                    attempt=attempt,
                    attempted_at=at,
                    status_code=outcome.status_code,
                    outcome="delivered" if delivered else "failed",
                    error=(outcome.error or "")[:500] or None,
                    duration_ms=took,
                )
            )
            conn.execute(
                update(_D)
                .where(_D.event_id == event_id, _D.endpoint_id == endpoint_id)
                .values(status=status, attempts=attempt, next_attempt_at=next_at, locked_until=None)
            )
            if outcome.status_code == 410:
                conn.execute(
                    update(WebhookEndpoint)
                    .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.disabled_at.is_(None))
                    .values(disabled_at=at, disabled_reason="the receiver answered 410 Gone")
                )

    def _post(self, url: str, secret: str, event_id: str, body: str, at: datetime) -> Outcome:
        try:
            check_url(url, self.settings.webhook_private_networks)
        except InvalidRequest as exc:
            return Outcome(None, str(exc))
        try:
            r = self.client.post(
                url, content=body.encode(), headers=signed_headers(secret, event_id, body, at)
            )
        except httpx.TimeoutException:
            return Outcome(None, f"no answer within {self.settings.webhook_timeout_seconds:g} s")
        except httpx.HTTPError as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= r.status_code < 300:
            return Outcome(r.status_code, None)
        return Outcome(r.status_code, f"HTTP {r.status_code}", _retry_after(r))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
