"""What reaches the API before any route: oversized heads get 431 without being read whole,
no redirect is built from the client's Host header, and a response leaves in one write."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import uvicorn
from apiworld import auth, free_port

from api.server import HEAD_LIMIT_BYTES, CoalescedWrites, HeadLimitedProtocol


@pytest.fixture
def server(app):
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", http=HeadLimitedProtocol
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield port
    srv.should_exit = True
    thread.join(10)


def _send_head(port: int, head: bytes) -> tuple[bytes, int, float]:
    """Send `head` as fast as the server takes it; (response, bytes it took, seconds)."""
    started = time.monotonic()
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            for i in range(0, len(head), 65536):
                s.sendall(head[i : i + 65536])
                sent += len(head[i : i + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection: it stopped reading
        response = b""
        try:
            while chunk := s.recv(65536):
                response += chunk
        except ConnectionResetError:
            pass
    return response, sent, time.monotonic() - started


def test_a_32_mb_authorization_header_is_refused_with_431_unread(server):
    token = b"x" * (32 * 1024 * 1024)
    head = b"GET /v1/products HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer " + token + b"\r\n\r\n"
    response, sent, seconds = _send_head(server, head)
    assert response.startswith(b"HTTP/1.1 431 ")
    assert b'"code": "headers_too_large"' in response
    assert sent < 8 * 1024 * 1024  # it stopped reading long before the end
    assert seconds < 2


def test_a_normal_head_still_passes(server, world):
    _, key = world.tenant("standard")
    head = (
        f"GET /v1/products HTTP/1.1\r\nHost: api\r\nAuthorization: {auth(key)['Authorization']}"
        "\r\nConnection: close\r\n\r\n"
    ).encode()
    response, _, _ = _send_head(server, head)
    assert response.startswith(b"HTTP/1.1 200 ")


def test_a_keep_alive_connection_gets_each_answer_whole(server, world):
    _, key = world.tenant("standard")
    head = f"GET /v1/products HTTP/1.1\r\nHost: api\r\n{_auth_line(key)}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
        reader = sock.makefile("rb")
        for _ in range(3):
            sock.sendall(head)
            assert reader.readline().startswith(b"HTTP/1.1 200 ")
            length = 0
            while (line := reader.readline()) != b"\r\n":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            assert reader.read(length).startswith(b"{")


def _auth_line(key: str) -> str:
    return f"Authorization: {auth(key)['Authorization']}"


def test_writes_made_in_one_loop_step_leave_as_one():
    class Socket:
        def __init__(self):
            self.writes, self.closed = [], False

        def write(self, data):
            self.writes.append(data)

        def is_closing(self):
            return self.closed

        def close(self):
            self.closed = True

    async def run() -> Socket:
        sock = Socket()
        transport = CoalescedWrites(sock, asyncio.get_running_loop())
        transport.write(b"head ")
        transport.write(b"body")
        assert sock.writes == []  # held to the end of this step
        await asyncio.sleep(0)
        assert sock.writes == [b"head body"]
        transport.write(b"last")
        transport.close()  # what is held goes out before the close
        assert sock.writes == [b"head body", b"last"] and sock.closed
        transport.write(b"late")
        await asyncio.sleep(0)
        return sock

    assert asyncio.run(run()).writes == [b"head body", b"last"]  # none after the close


def test_heads_over_the_limit_are_431_under_any_server_too(client):
    r = client.get("/v1/products", headers={"X-Padding": "p" * (HEAD_LIMIT_BYTES + 1)})
    assert r.status_code == 431 and r.json()["error"]["code"] == "headers_too_large"


def test_no_redirect_is_built_from_the_host_header(client, world):
    _, key = world.tenant("standard")
    r = client.get(
        "/v1/products/",
        headers={**auth(key), "Host": "evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 404 and "location" not in r.headers
    assert client.get("/v1/products", headers=auth(key)).status_code == 200
