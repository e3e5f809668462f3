"""Errors a seller can act on: each carries a one-line message that names what is wrong.

The CLI prints them as `error: <message>` and exits non-zero; the API maps them to its
error shape. Anything else escaping is a bug and keeps its traceback.
"""

from __future__ import annotations


class TollgateError(Exception):
    """Base of every expected failure; `str(err)` is the one-line reason, `code` a stable
    machine-readable name of it (the API's error code)."""

    code = "error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class NotFound(TollgateError):
    """The named tenant, key or client does not exist."""

    code = "not_found"


class AlreadyExists(TollgateError):
    """Creating something whose id is taken."""

    code = "already_exists"


class InvalidRequest(TollgateError):
    """The request names something the catalog does not know, or breaks a rule."""

    code = "invalid_request"


class Conflict(TollgateError):
    """The target exists but is in the wrong state (suspended tenant, revoked key)."""

    code = "conflict"


class NotEntitled(TollgateError):
    """The tenant's tier or contracts do not cover what it asked for; `details` says what
    would (the tiers to upgrade to, the product to buy)."""

    code = "not_entitled"

    def __init__(self, message: str, code: str | None = None, details: dict | None = None):
        super().__init__(message, code)
        self.details = details or {}
