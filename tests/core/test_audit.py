import pytest
from sqlalchemy import select

from tollgate import audit
from tollgate.db.engine import session_factory
from tollgate.db.migrate import upgrade
from tollgate.db.models import AuditEntry


def test_record_commits_with_the_callers_transaction_only(settings):
    url = settings.metadata_db_url
    upgrade(url)
    with session_factory(url)() as session:
        audit.record(session, "acme", "key:k1", "export.create", "exp-1", "success", {"rows": 5})
        session.rollback()  # the change failed: its audit row goes with it
        audit.record(session, "acme", "key:k1", "export.download", "exp-1", "success")
        session.commit()
    why = {"why": "bad key"}
    audit.record_now(url, None, "ip:10.0.0.1", "auth.failure", "x" * 500, "denied", why)
    with session_factory(url)() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(r.action, r.outcome, r.tenant_id) for r in rows] == [
        ("export.download", "success", "acme"),
        ("auth.failure", "denied", None),
    ]
    assert len(rows[1].target) == 200 and rows[1].details == {"why": "bad key"}
    assert rows[0].at.tzinfo is not None


def test_unknown_outcome_is_refused(settings):
    upgrade(settings.metadata_db_url)
    with session_factory(settings.metadata_db_url)() as session, pytest.raises(ValueError):
        audit.record(session, "acme", "cli", "tenant.create", "acme", "ok")  # type: ignore[arg-type]
