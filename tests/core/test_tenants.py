"""Tenants, keys and OAuth2 clients: rules, audit trail, and no plaintext secret at rest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tollgate import tenants as service
from tollgate.catalog import load_catalog
from tollgate.clock import utcnow
from tollgate.db.engine import session_factory
from tollgate.db.migrate import upgrade
from tollgate.db.models import ApiKey, AuditEntry, OAuthClient
from tollgate.errors import AlreadyExists, Conflict, InvalidRequest, NotFound
from tollgate.keys import parse_api_key, verify_secret


@pytest.fixture
def catalog(settings):
    return load_catalog(settings.catalog_path)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def session(request, settings):
    """The same rules on both metadata backends."""
    url = settings.metadata_db_url
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    upgrade(url)
    with session_factory(url)() as s:
        yield s


@pytest.fixture
def sqlite_session(settings):
    upgrade(settings.metadata_db_url)
    with session_factory(settings.metadata_db_url)() as s:
        yield s


def audit(session) -> list[tuple[str, str, str]]:
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
    return [(r.action, r.target, r.outcome) for r in rows]


def test_create_tenant_stores_tier_and_regions_in_catalog_order(session, catalog):
    tenant = service.create_tenant(
        session, "initech", "Initech", "premium", ["EU", "US-East"], catalog=catalog, actor="ops"
    )
    assert (tenant.tier, tenant.status) == ("premium", "active")
    assert tenant.allowed_regions == ["US-East", "EU"]
    assert [t.id for t in service.list_tenants(session)] == ["initech"]
    entry = session.scalars(select(AuditEntry)).one()
    assert (entry.actor, entry.action, entry.target, entry.outcome) == (
        "ops",
        "tenant.create",
        "initech",
        "success",
    )


@pytest.mark.parametrize(
    ("tenant_id", "tier", "regions", "message"),
    [
        ("acme", "gold", None, "unknown tier 'gold'"),
        ("acme", "trial", ["Mars"], "unknown region 'Mars'"),
        ("acme", "trial", [], "at least one region"),
        ("Acme Corp", "trial", None, "tenant id 'Acme Corp'"),
    ],
)
def test_create_tenant_refuses_bad_input_and_audits_the_attempt(
    session, catalog, tenant_id, tier, regions, message
):
    with pytest.raises(InvalidRequest, match=message):
        service.create_tenant(session, tenant_id, "x", tier, regions, catalog=catalog)
    assert service.list_tenants(session) == []
    assert audit(session) == [("tenant.create", tenant_id, "failure")]


def test_duplicate_tenant_is_refused(session, catalog):
    service.create_tenant(session, "acme", "Acme", "trial", catalog=catalog)
    with pytest.raises(AlreadyExists, match="'acme' already exists"):
        service.create_tenant(session, "acme", "Acme again", "premium", catalog=catalog)
    assert service.get_tenant(session, "acme").tier == "trial"


def test_suspend_then_reactivate(session, catalog):
    service.create_tenant(session, "acme", "Acme", "trial", catalog=catalog)
    assert service.suspend_tenant(session, "acme").status == "suspended"
    with pytest.raises(Conflict, match="already suspended"):
        service.suspend_tenant(session, "acme")
    with pytest.raises(Conflict, match="suspended"):
        service.issue_key(session, "acme")
    assert service.reactivate_tenant(session, "acme").status == "active"
    with pytest.raises(NotFound, match="no tenant 'ghost'"):
        service.suspend_tenant(session, "ghost")
    assert [a for a, _, o in audit(session) if o == "success"] == [
        "tenant.create",
        "tenant.suspend",
        "tenant.reactivate",
    ]


def test_issued_key_is_stored_only_as_a_hash(settings, sqlite_session, catalog):
    session = sqlite_session
    service.create_tenant(session, "acme", "Acme", "trial", catalog=catalog)
    key = service.issue_key(session, "acme", "ci")
    key_id, secret = parse_api_key(key.plaintext)
    row = session.get(ApiKey, key_id)
    assert row.tenant_id == "acme" and row.secret_hash != secret
    assert verify_secret(secret, row.secret_hash)
    assert not verify_secret(secret[:-1] + ("A" if secret[-1] != "A" else "B"), row.secret_hash)
    session.close()
    # Nothing of the secret may reach the disk: not the table, the WAL or the journal.
    for path in settings.data_dir.glob("metadata.db*"):
        data = path.read_bytes()
        assert secret.encode() not in data and key.plaintext.encode() not in data, path


def test_revoke_key(session, catalog):
    service.create_tenant(session, "acme", "Acme", "trial", catalog=catalog)
    key = service.issue_key(session, "acme")
    other = service.issue_key(session, "acme", expires_at=utcnow() + timedelta(days=1))
    assert service.revoke_key(session, key.key_id).revoked_at is not None
    with pytest.raises(Conflict, match="already revoked"):
        service.revoke_key(session, key.key_id)
    with pytest.raises(NotFound, match="no API key 'nope00000000'"):
        service.revoke_key(session, "nope00000000")
    with pytest.raises(InvalidRequest, match="key id"):
        service.revoke_key(session, "nope")
    # The whole key works too; only its key id is recorded.
    assert service.revoke_key(session, other.plaintext).key_id == other.key_id
    states = {k.key_id: k.revoked_at is None for k in service.list_keys(session, "acme")}
    assert states == {key.key_id: False, other.key_id: False}
    assert ("key.revoke", "nope00000000", "failure") in audit(session)
    assert ("key.revoke", "(not a key id)", "failure") in audit(session)
    assert ("key.revoke", other.key_id, "success") in audit(session)


def test_key_expiry_must_be_in_the_future(session, catalog):
    service.create_tenant(session, "acme", "Acme", "trial", catalog=catalog)
    with pytest.raises(InvalidRequest, match="in the past"):
        service.issue_key(session, "acme", expires_at=utcnow() - timedelta(seconds=1))
    assert service.list_keys(session) == []


def test_oauth_client_secret_is_hashed(session, catalog):
    service.create_tenant(session, "initech", "Initech", "premium", catalog=catalog)
    client_id, secret = service.create_oauth_client(session, "initech")
    row = session.get(OAuthClient, client_id)
    assert row.tenant_id == "initech" and secret not in row.secret_hash
    assert verify_secret(secret, row.secret_hash)
    with pytest.raises(NotFound):
        service.create_oauth_client(session, "ghost")
