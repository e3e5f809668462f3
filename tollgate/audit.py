"""The audit log: who did what to which tenant, when, and whether it worked.

One helper for every lane. `record()` adds the row to the caller's session so it commits
(or rolls back) with the change it describes; `record_now()` commits a row on its own, for
events with no surrounding transaction (an auth failure, a download).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tollgate.db.engine import session_factory
from tollgate.db.models import AuditEntry
from tollgate.errors import TollgateError

Outcome = Literal["success", "failure", "denied"]
OUTCOMES: tuple[str, ...] = ("success", "failure", "denied")
_TARGET_WIDTH = 200  # the column's width: an absurd target still gets recorded, truncated


def record(
    session: Session,
    tenant_id: str | None,
    actor: str,
    action: str,
    target: str = "",
    outcome: Outcome = "success",
    details: dict | None = None,
) -> AuditEntry:
    """Add an audit row to `session` (flushed, not committed: the caller's commit keeps it)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    entry = AuditEntry(
        tenant_id=tenant_id,
        actor=actor[:_TARGET_WIDTH],
        action=action,
        target=target[:_TARGET_WIDTH],
        outcome=outcome,
        details=details or None,
    )
    session.add(entry)
    session.flush()
    return entry


def record_now(
    metadata_db_url: str,
    tenant_id: str | None,
    actor: str,
    action: str,
    target: str = "",
    outcome: Outcome = "success",
    details: dict | None = None,
) -> AuditEntry:
    """Record and commit one audit row in its own transaction."""
    with session_factory(metadata_db_url)() as session:
        entry = record(session, tenant_id, actor, action, target, outcome, details)
        session.commit()
        return entry


@contextmanager
def audited(
    session: Session, actor: str, action: str, target: str, tenant_id: str | None
) -> Iterator[dict]:
    """One audited unit of work: commit the change with a success row (carrying the details
    the block filled in), or roll it back whole and record the refusal as a failure."""
    details: dict = {}
    try:
        yield details
        session.flush()
    except TollgateError as exc:
        session.rollback()
        record(session, tenant_id, actor, action, target, "failure", {"reason": str(exc)})
        session.commit()
        raise
    record(session, tenant_id, actor, action, target, "success", details)
    session.commit()


def entries(
    engine: Engine,
    *,
    tenant_id: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    outcome: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Audit rows, newest first, matching every filter given. `action` ending in "." (or
    "*") matches a family: "snapshot." is every snapshot action."""
    a = AuditEntry
    query = select(a).order_by(a.at.desc(), a.id.desc()).limit(limit)
    if tenant_id is not None:
        query = query.where(a.tenant_id == tenant_id)
    if action is not None:
        family = action.rstrip("*")
        if family.endswith("."):
            query = query.where(a.action.startswith(family, autoescape=True))
        else:
            query = query.where(a.action == action)
    if actor is not None:
        query = query.where(a.actor == actor)
    if outcome is not None:
        query = query.where(a.outcome == outcome)
    if target is not None:
        query = query.where(a.target == target)
    if since is not None:
        query = query.where(a.at >= since)
    if until is not None:
        query = query.where(a.at < until)
    with Session(engine) as session:
        return list(session.scalars(query))
