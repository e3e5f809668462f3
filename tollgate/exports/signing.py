"""Signed download links: HMAC-SHA256 over export, tenant and expiry, so a link works for
one export, one tenant, until it expires, and any change to it is refused."""

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


def sign_download(secret: str, export_id: str, tenant_id: str, expires_at: datetime) -> str:
    """The signature of a download link for one export, one tenant, until `expires_at`."""
    message = f"{export_id}\n{tenant_id}\n{int(expires_at.timestamp())}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def download_params(
    secret: str, export_id: str, tenant_id: str, expires_at: datetime
) -> dict[str, str]:
    """Query parameters (`expires`, `signature`) of a signed download URL."""
    expires = int(expires_at.timestamp())
    signature = sign_download(secret, export_id, tenant_id, datetime.fromtimestamp(expires, UTC))
    return {"expires": str(expires), "signature": signature}


def verify_download(
    secret: str,
    export_id: str,
    tenant_id: str,
    expires: str | int,
    signature: str,
    now: datetime | None = None,
) -> None:
    """Accept a signed link or raise `SignatureError` (tampered first, then expired)."""
    try:
        expires_at = datetime.fromtimestamp(int(expires), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise SignatureError("invalid") from None
    expected = sign_download(secret, export_id, tenant_id, expires_at)
    if not hmac.compare_digest(expected, str(signature)):
        raise SignatureError("invalid")
    if (now or datetime.now(UTC)) >= expires_at:
        raise SignatureError("expired")
