"""Signed download links: HMAC-SHA256 over export, tenant, expiry and the credential the link
was issued to, so a link works for one export, one tenant, until it expires, and any change
to it is refused. The serving route checks that the tenant and credential are still in good
standing at each download: a suspension or revocation reaches links issued before it."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Literal


class SignatureError(ValueError):
    """A download link that must be refused; `reason` is "expired" or "invalid"."""

    def __init__(self, reason: Literal["expired", "invalid"]) -> None:
        super().__init__(f"download link {reason}")
        self.reason = reason


def sign_download(
    secret: str, export_id: str, tenant_id: str, expires_at: datetime, credential: str = ""
) -> str:
    """The signature of a download link for one export, one tenant, until `expires_at`,
    issued to `credential` (`key:<key id>` or `client:<client id>`)."""
    message = f"{export_id}\n{tenant_id}\n{int(expires_at.timestamp())}"
    if credential:
        message += f"\n{credential}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def download_params(
    secret: str, export_id: str, tenant_id: str, expires_at: datetime, credential: str = ""
) -> dict[str, str]:
    """Query parameters (`expires`, `credential`, `signature`) of a signed download URL."""
    expires = int(expires_at.timestamp())
    at = datetime.fromtimestamp(expires, UTC)
    signature = sign_download(secret, export_id, tenant_id, at, credential)
    params = {"expires": str(expires)}
    if credential:
        params["credential"] = credential
    return {**params, "signature": signature}


def verify_download(
    secret: str,
    export_id: str,
    tenant_id: str,
    expires: str | int,
    signature: str,
    now: datetime | None = None,
    credential: str = "",
) -> None:
    """Accept a signed link or raise `SignatureError` (tampered first, then expired)."""
    try:
        expires_at = datetime.fromtimestamp(int(expires), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise SignatureError("invalid") from None
    expected = sign_download(secret, export_id, tenant_id, expires_at, credential)
    if not hmac.compare_digest(expected, str(signature)):
        raise SignatureError("invalid")
    if (now or datetime.now(UTC)) >= expires_at:
        raise SignatureError("expired")
