"""The HTTP server the Data API runs under: uvicorn, with a limit on request heads.

uvicorn's httptools protocol reads a request's head (request line and headers) whatever its
size before the application sees it; a 32 MB `Authorization` header took seconds of work
before its 401. `HeadLimitedProtocol` counts what arrives until the head is complete and
answers 431 (RFC 6585), closing the connection, as soon as it passes HEAD_LIMIT_BYTES.

It also sends what is written to a connection within one step of the event loop as one
write (`CoalescedWrites`): uvicorn writes a response's head and its body separately, and
on loopback each socket write costs the sender the receiver's TCP work too; the second
write was about a tenth of a metered lookup's CPU time (bench/api.py).
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# 16 KiB for the whole head: above what any client of this API sends (a key, a token, an
# Idempotency-Key), below where parsing starts to cost.
HEAD_LIMIT_BYTES = 16 * 1024
_BODY = json.dumps(
    {
        "error": {
            "code": "headers_too_large",
            "message": f"request line and headers are limited to {HEAD_LIMIT_BYTES} bytes",
            "details": {"limit_bytes": HEAD_LIMIT_BYTES},
        }
    }
).encode()
REFUSAL = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: application/json\r\n"
    b"content-length: " + str(len(_BODY)).encode() + b"\r\n"
    b"connection: close\r\n\r\n" + _BODY
)


class HeadLimitedProtocol(HttpToolsProtocol):
    _head_bytes = 0
    _in_head = True  # between requests, or reading one's head

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > HEAD_LIMIT_BYTES:
                self.transport.write(REFUSAL)
                self.transport.close()
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True
        super().on_message_complete()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescedWrites(transport, self.loop))


class CoalescedWrites:
    """A transport whose writes made within one event-loop step go out in one write, at
    the end of that step (or at `close`, before it). Everything else is the transport's."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._held: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self._held is None:
            self._held = [data]
            self._loop.call_soon(self._flush)
        else:
            self._held.append(data)

    def _flush(self) -> None:
        held, self._held = self._held, None
        # A connection the peer closed meanwhile takes no more (uvicorn drops it as well).
        if held and not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)
