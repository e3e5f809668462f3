"""Opaque pagination cursors: base64 of a small JSON document the client hands back."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from api.errors import ApiError


def encode_cursor(state: dict) -> str:
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict:
    """The cursor's state; a 400 for anything this API did not issue."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeError):
        raise ApiError(400, "invalid_cursor", "the cursor is not one this API issued") from None
    if not isinstance(state, dict):
        raise ApiError(400, "invalid_cursor", "the cursor is not one this API issued")
    return state


def decode_position(cursor: str, code: str, message: str) -> tuple[datetime, str]:
    """A live-store position (processed_at, key) from a cursor; a 400 `code` if it is not one.

    The timestamp must carry its zone: the store compares aware UTC datetimes only, and a
    forged naive one would otherwise fail deep in the query as a 500.
    """
    state = decode_cursor(cursor)
    try:
        at, key = datetime.fromisoformat(state["pa"]), state["k"]
    except (KeyError, TypeError, ValueError):
        raise ApiError(400, code, message) from None
    if at.tzinfo is None or not isinstance(key, str):
        raise ApiError(400, code, message)
    return at, key
