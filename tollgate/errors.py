"""Errors a seller can act on: each carries a one-line message that names what is wrong.

The CLI prints them as `error: <message>` and exits non-zero; the API maps them to its
error shape. Anything else escaping is a bug and keeps its traceback.
"""

from __future__ import annotations


class TollgateError(Exception):
    """Base of every expected failure; `str(err)` is the one-line reason."""


class NotFound(TollgateError):
    """The named tenant, key or client does not exist."""


class AlreadyExists(TollgateError):
    """Creating something whose id is taken."""


class InvalidRequest(TollgateError):
    """The request names something the catalog does not know, or breaks a rule."""


class Conflict(TollgateError):
    """The target exists but is in the wrong state (suspended tenant, revoked key)."""
