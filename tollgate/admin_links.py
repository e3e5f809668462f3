"""Sign-in links to the seller's view of the portal, minted from the console.

Whoever can run `tollgate` holds the deployment's signing secret; the link carries the
operator's name, is signed with that secret and expires after a few minutes. The portal
turns a valid link into a seller session.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

_SALT = "tollgate-portal-admin-link"
LINK_MINUTES = 15


def mint_admin_token(secret: str, actor: str) -> str:
    return URLSafeTimedSerializer(secret, salt=_SALT).dumps({"a": actor})


def read_admin_token(secret: str, token: str, max_age_seconds: int = LINK_MINUTES * 60) -> str:
    """The operator the link was minted for; ValueError when it is forged or expired."""
    try:
        data = URLSafeTimedSerializer(secret, salt=_SALT).loads(token, max_age=max_age_seconds)
    except BadSignature:
        raise ValueError("the sign-in link is not valid or has expired") from None
    actor = data.get("a") if isinstance(data, dict) else None
    if not isinstance(actor, str) or not actor:
        raise ValueError("the sign-in link is not valid")
    return actor
