"""Which receiver URLs a webhook may be sent to: http(s) only, and never a private,
loopback, link-local or otherwise internal address unless the seller allowed its network
(`webhook_private_networks`): an endpoint must not be a way into the seller's own network.
Checked at registration and again before every attempt (a name may resolve elsewhere later).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from tollgate.errors import InvalidRequest

MAX_URL = 2000


class RefusedAddress(InvalidRequest):
    code = "webhook_url_refused"


def _internal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_url(url: str, allowed_networks: Sequence[str] = (), resolve: bool = True) -> str:
    """`url`, if webhooks may be sent to it; raises InvalidRequest (code
    `invalid_webhook_url`) or RefusedAddress (`webhook_url_refused`) saying why not."""
    if len(url) > MAX_URL:
        raise InvalidRequest(f"the URL is longer than {MAX_URL} characters", "invalid_webhook_url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InvalidRequest(
            f"a webhook URL must be http or https, not {parts.scheme or 'none'!r}",
            "invalid_webhook_url",
        )
    if not parts.hostname:
        raise InvalidRequest("the URL names no host", "invalid_webhook_url")
    if parts.username or parts.password:
        raise InvalidRequest("the URL must not carry credentials", "invalid_webhook_url")
    try:
        port = parts.port
    except ValueError:
        raise InvalidRequest("the URL's port is not a number", "invalid_webhook_url") from None
    if not resolve:
        return url
    for ip in addresses(parts.hostname, port or (443 if parts.scheme == "https" else 80)):
        if _internal(ip) and not _allowed(ip, allowed_networks):
            raise RefusedAddress(
                f"{parts.hostname} is a private or internal address ({ip}); the seller has "
                "not allowed webhooks to it"
            )
    return url


def addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address `host` resolves to (an IP literal is its own)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise InvalidRequest(f"{host} does not resolve", "invalid_webhook_url") from None
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def _allowed(ip, networks: Sequence[str]) -> bool:
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)
