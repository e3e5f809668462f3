"""Sign-in links to the seller's view of the portal, minted from the console.

Whoever can run `tollgate` holds the deployment's signing secret; the link carries the
operator's name and a nonce, is signed with that secret, expires after a few minutes and
signs in once: its nonce is recorded when it is used, so a copy found later (in a
browser's history, a proxy's log, a forwarded message) opens nothing. The portal turns a
valid, unused link into a seller session.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from tollgate.db.access_models import UsedAdminLink

_SALT = "tollgate-portal-admin-link"
LINK_MINUTES = 15


@dataclass(frozen=True)
class AdminLink:
    actor: str
    nonce: str


def mint_admin_token(secret: str, actor: str) -> str:
    return URLSafeTimedSerializer(secret, salt=_SALT).dumps(
        {"a": actor, "n": secrets.token_urlsafe(16)}
    )


def read_admin_token(
    secret: str, token: str, max_age_seconds: int = LINK_MINUTES * 60
) -> AdminLink:
    """The link's operator and nonce; ValueError when it is forged or expired."""
    try:
        data = URLSafeTimedSerializer(secret, salt=_SALT).loads(token, max_age=max_age_seconds)
    except BadSignature:
        raise ValueError("the sign-in link is not valid or has expired") from None
    actor, nonce = (data.get("a"), data.get("n")) if isinstance(data, dict) else (None, None)
    if not (isinstance(actor, str) and actor and isinstance(nonce, str) and nonce):
        raise ValueError("the sign-in link is not valid")
    return AdminLink(actor, nonce)


def use_admin_link(engine: Engine, link: AdminLink, now: datetime) -> None:
    """Record the link as used; ValueError when it already was. Uses older than a link's
    lifetime are pruned on the way (their links have expired)."""
    try:
        with engine.begin() as conn:
            conn.execute(
                delete(UsedAdminLink).where(
                    UsedAdminLink.used_at < now - timedelta(minutes=2 * LINK_MINUTES)
                )
            )
            conn.execute(
                UsedAdminLink.__table__.insert().values(
                    nonce=link.nonce, actor=link.actor, used_at=now
                )
            )
    except IntegrityError:
        raise ValueError("the sign-in link has already been used") from None
