"""The outermost layer of every request (pure ASGI, so push streams pass straight through).

It assigns the request id, refuses heads over the limit (431; `api.server` stops them
earlier still, while they arrive) and bodies over the limit (413) before any route reads them,
adds the rate-limit headers decided during the request to whatever response goes out,
records latency and status metrics, and appends each answered /v1 request to the request
log (`api.requestlog`). The metered lookup's common requests then go to its lane
(`api.lookup`), everything else to the app. One layer does all of this: the request-log
middleware and the lane's own layer, with the `send` wrapper of the first, took about 4% of
a lookup's time in a profile (py-spy, bench/api.py's closed loop).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from api.ids import new_id
from api.metrics import ApiMetrics
from api.requestlog import LOGGED_PREFIX, RequestLog
from api.server import HEAD_LIMIT_BYTES

if TYPE_CHECKING:
    from api.lookup import LookupLane

# The seed's gateway caps query bodies at 1 KB.
BODY_LIMIT_BYTES = 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


_RAW_NAMES: dict[str, bytes] = {}


def raw_header_name(name: str) -> bytes:
    """A header name as ASGI sends it, encoded once per name: for names the code sets (the
    rate-limit and answer headers), never for names a client sent."""
    raw = _RAW_NAMES.get(name)
    if raw is None:
        raw = _RAW_NAMES[name] = name.lower().encode("latin-1")
    return raw


class EdgeMiddleware:
    def __init__(
        self, app: ASGIApp, metrics: ApiMetrics, log: RequestLog, lane: LookupLane | None = None
    ):
        self.app, self.metrics, self.log, self.lane = app, metrics, log, lane
        # Each label set's children, looked up once (`labels()` validates on every call).
        self._series: dict[tuple, tuple] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        asked_id, declared, head_bytes = b"", None, 0
        for name, value in scope["headers"]:  # of a repeated header, the last counts
            head_bytes += len(name) + len(value)
            if name == b"x-request-id":
                asked_id = value
            elif name == b"content-length":
                declared = value
        given = asked_id.decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else new_id()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id

        if head_bytes > HEAD_LIMIT_BYTES:
            await self._refuse(scope, receive, send, request_id, started, 431)
            return

        if declared is not None and (not declared.isdigit() or int(declared) > BODY_LIMIT_BYTES):
            await self._refuse(scope, receive, send, request_id, started, 413)
            return

        if declared is None and scope["method"] in ("POST", "PUT", "PATCH"):
            # A chunked body declares no length: read it here (at most the limit) and replay it.
            body, more = b"", True
            while more and len(body) <= BODY_LIMIT_BYTES:
                message = await receive()
                if message["type"] != "http.request":
                    break
                body += message.get("body", b"")
                more = message.get("more_body", False)
            if len(body) > BODY_LIMIT_BYTES:
                await self._refuse(scope, receive, send, request_id, started, 413)
                return
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            receive = replay

        logged = scope["path"].startswith(LOGGED_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                added = [(b"x-request-id", request_id.encode("latin-1"))]
                for name, value in state.get("rate_headers", {}).items():
                    added.append((raw_header_name(name), value.encode("latin-1")))
                # Set, not added: a header of the same name the response carries goes.
                names = {name for name, _ in added}
                kept = [h for h in message.get("headers", ()) if h[0].lower() not in names]
                message["headers"] = kept + added
                self._observe(scope, message["status"], started, kept if logged else None)
            await send(message)

        lane = self.lane
        asked = lane.taken(scope) if lane is not None else None
        if asked is not None:
            await lane.serve(scope, receive, send_with_headers, *asked)
        else:
            await self.app(scope, receive, send_with_headers)

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request_id: str,
        started: float,
        status: int,
    ) -> None:
        code, what, limit = (
            ("payload_too_large", "request bodies", BODY_LIMIT_BYTES)
            if status == 413
            else ("headers_too_large", "request line and headers", HEAD_LIMIT_BYTES)
        )
        response = error_response(
            status,
            code,
            f"{what} are limited to {limit} bytes",
            {"limit_bytes": limit},
            {"X-Request-ID": request_id},
        )
        await response(scope, receive, send)
        self._observe(scope, status, started)

    def _observe(
        self, scope: Scope, status: int, started: float, logged: list | None = None
    ) -> None:
        """Metrics of the response that starts now; with its headers (`logged`), a row of
        the request log too (latency is time to the response headers)."""
        elapsed = time.perf_counter() - started
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        state = scope.get("state", {})
        labels = (route, state.get("product", ""), state.get("tier", ""), status)
        series = self._series.get(labels)
        if series is None:  # label values are route templates, products, tiers: bounded
            metrics = self.metrics
            series = self._series[labels] = (
                metrics.latency.labels(*labels[:3]),
                metrics.responses.labels(route, str(status)),
            )
        series[0].observe(elapsed)
        series[1].inc()
        if logged is not None:
            freshness = None
            for name, value in logged:
                if name.lower() == b"x-data-freshness" and value.isdigit():
                    freshness = float(value)
            tenant_id, product_id = state.get("tenant_id"), state.get("product")
            self.log.record(tenant_id, product_id, route, status, elapsed * 1000.0, freshness)
