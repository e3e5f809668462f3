"""The API bench's load generators (bench/api.py): open-loop requests at a fixed rate,
closed-loop requests as fast as the server answers, and SSE push lag."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

STAMP = b'"processed_at":"'


def percentile_ms(ordered: list[float], p: float, digits: int) -> float:
    """The p-th of sorted seconds, in milliseconds (-1 when nothing was measured)."""
    if not ordered:
        return -1
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, digits)


# -- open-loop load ---------------------------------------------------------------------------
async def _request(reader, writer, path: str, headers: bytes) -> int:
    writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: bench\r\n" + headers + b"\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def offered_load(
    port: int,
    path_for: Callable[[int], str],
    headers: bytes,
    rate: float,
    seconds: float,
    connections: int = 64,
) -> dict:
    """Requests due on a fixed schedule (`rate` per second), `path_for(i)` the i-th one's path;
    latency counts from when a request was due, so a slow server cannot hide its queue."""
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    next_index = 0
    start = time.perf_counter() + 0.2

    async def worker() -> None:
        nonlocal next_index, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while next_index < total:
            i = next_index
            next_index += 1
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                status = await _request(reader, writer, path_for(i), headers)
            except (OSError, asyncio.IncompleteReadError):
                errors += 1
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            if status != 200:
                errors += 1
            latencies.append(time.perf_counter() - due)  # from when it was due: no hidden queue
        writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rps": round((len(latencies) - errors) / elapsed, 1),
        "p50_ms": percentile_ms(latencies, 0.50, 2),
        "p95_ms": percentile_ms(latencies, 0.95, 2),
        "p99_ms": percentile_ms(latencies, 0.99, 2),
        "errors": errors,
    }


# -- closed-loop load: the server's maximum rate ------------------------------------------------
async def closed_loop(
    port: int,
    path_for: Callable[[int], str],
    headers: bytes,
    seconds: float,
    connections: int = 32,
) -> dict:
    """Each connection sends its next request as soon as its last one is answered, for
    `seconds`: requests per second is then what the server can do at most."""
    latencies: list[float] = []
    errors = 0
    next_index = 0
    start = time.perf_counter()
    stop = start + seconds

    async def worker() -> None:
        nonlocal next_index, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < stop:
            i = next_index
            next_index += 1
            sent = time.perf_counter()
            try:
                status = await _request(reader, writer, path_for(i), headers)
            except (OSError, asyncio.IncompleteReadError):
                errors += 1
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            if status != 200:
                errors += 1
            latencies.append(time.perf_counter() - sent)
        writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rps": round((len(latencies) - errors) / elapsed, 1),
        "p50_ms": percentile_ms(latencies, 0.50, 2),
        "p99_ms": percentile_ms(latencies, 0.99, 2),
        "errors": errors,
        "connections": connections,
    }


# -- push lag -----------------------------------------------------------------------------------
async def sse_lag(
    port: int, path: str, key: str, subscribers: int, write_rows: Callable[[], int]
) -> dict:
    """`subscribers` streams of `path` open, `write_rows()` (in a thread) writes rows and
    returns how many; lag is from each record's processed_at stamp to its arrival."""
    lags: list[float] = []
    opened: list[asyncio.StreamWriter] = []
    request = (
        f"GET {path} HTTP/1.1\r\nHost: bench\r\n"
        f"Authorization: Bearer {key}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()

    async def subscriber() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head[:16]:
            raise RuntimeError(head.decode(errors="replace")[:200])
        opened.append(writer)
        pending = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            arrived = datetime.now(UTC)
            # Only whole lines; a record cut by the read boundary is finished by the next read.
            pending += chunk
            cut = pending.rfind(b"\n") + 1
            complete, pending = pending[:cut], pending[cut:]
            at = complete.find(STAMP)
            while at >= 0:
                start = at + len(STAMP)
                stamp = complete[start : complete.index(b'"', start)].decode()
                lags.append((arrived - datetime.fromisoformat(stamp)).total_seconds())
                at = complete.find(STAMP, start)

    tasks = [asyncio.create_task(subscriber()) for _ in range(subscribers)]
    while len(opened) < subscribers:
        if any(t.done() and t.exception() for t in tasks):
            raise next(t.exception() for t in tasks if t.done() and t.exception())
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    sent = await asyncio.to_thread(write_rows)
    await asyncio.sleep(2.0)  # let the last rows arrive
    for writer in opened:
        writer.close()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    lags.sort()
    expected = sent * subscribers
    return {
        "subscribers": subscribers,
        "messages": len(lags),
        "lag_p50_ms": percentile_ms(lags, 0.5, 1),
        "lag_p95_ms": percentile_ms(lags, 0.95, 1),
        "lag_p99_ms": percentile_ms(lags, 0.99, 1),
        "lag_max_ms": round(lags[-1] * 1000, 1) if lags else -1,
        "dropped": max(0, expected - len(lags)),
    }
