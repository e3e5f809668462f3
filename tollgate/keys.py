"""API keys and client secrets: generated here, stored only as hashes.

A key reads `tg_<key id>_<secret>`: the typed prefix lets scanners spot a leaked key, the
public key id finds the stored row without touching the secret, and only a SHA-256 of the
secret is kept. Secrets are 256 random bits, so a fast hash is as strong as a slow one and
keeps the request path quick; comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

KEY_PREFIX = "tg"
_KEY = re.compile(r"^tg_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$")
_KEY_ID = re.compile(r"^[A-Za-z0-9]{12}$")
_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class NewKey:
    """A freshly issued credential: `plaintext` is shown once and never stored."""

    key_id: str
    plaintext: str
    secret_hash: str


def new_api_key() -> NewKey:
    key_id = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, f"{KEY_PREFIX}_{key_id}_{secret}", hash_secret(secret))


def parse_api_key(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, or None."""
    m = _KEY.match(token)
    return (m.group(1), m.group(2)) if m else None


def key_id_of(text: str) -> str | None:
    """The key id named by `text`: a key id itself, or a whole key (whose secret is dropped
    here, so it goes no further); None when it is neither."""
    parsed = parse_api_key(text.strip())
    if parsed is not None:
        return parsed[0]
    return text.strip() if _KEY_ID.match(text.strip()) else None


def new_client_secret() -> tuple[str, str]:
    """(secret, hash) for an OAuth2 client."""
    secret = secrets.token_urlsafe(32)
    return secret, hash_secret(secret)


def hash_secret(secret: str) -> str:
    return "sha256$" + hashlib.sha256(secret.encode()).hexdigest()


def verify_secret(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
