"""The API's documentation pages, /docs (Swagger UI) and /redoc, as they must load: offline.

fastapi-offline serves both pages' scripts and styles from the package. ReDoc's bundle still
asks a CDN for the Redocly logo in its menu; the pages' Content-Security-Policy lets them
load only what this API serves, so a browser never reaches the internet for the docs.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_PATHS = frozenset({"/docs", "/redoc"})
# Inline: each page's start-up script and ReDoc's styles; blob: ReDoc's search worker;
# data: the icons Swagger UI inlines.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:"
)


class DocsPolicyMiddleware:
    """Adds DOCS_POLICY to the docs pages' responses (pure ASGI: other routes pass as they are)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in DOCS_PATHS:
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Content-Security-Policy"] = DOCS_POLICY
            await send(message)

        await self.app(scope, receive, send_with_policy)
