"""The Delta Sharing profile file: where the sharing server is and the bearer token to send.

A buyer's client (`delta_sharing.SharingClient`, Spark's `deltaSharing` source, Power BI)
reads it; the token is the tenant's API key or OAuth access token.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tollgate.settings import Settings

SHARING_PREFIX = "/v1/sharing"
SHARE_CREDENTIALS_VERSION = 1


def sharing_endpoint(base_url: str) -> str:
    """The protocol's endpoint under an API base URL (`http://host:8000`)."""
    return base_url.rstrip("/") + SHARING_PREFIX


def default_base_url(settings: Settings) -> str:
    """The API's address as buyers reach it: `public_url`, else the host and port it binds."""
    return settings.public_url or f"http://{settings.api_host}:{settings.api_port}"


def sharing_profile(endpoint: str, token: str, expires_at: datetime | None = None) -> dict:
    """The profile file's content (shareCredentialsVersion 1)."""
    profile: dict = {
        "shareCredentialsVersion": SHARE_CREDENTIALS_VERSION,
        "endpoint": endpoint,
        "bearerToken": token,
    }
    if expires_at is not None:
        at = expires_at.astimezone(UTC).replace(microsecond=0)
        profile["expirationTime"] = at.isoformat().replace("+00:00", "Z")
    return profile
