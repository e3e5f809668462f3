"""Per-process reads of product state: fresh within the TTL, never older."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from api.services import Services


def test_status_and_watermark_are_reread_after_the_ttl(api_settings, world):
    services = Services.build(api_settings)
    services.state_ttl_seconds = 0.3
    assert services.product_status("transaction-risk").status == "healthy"
    assert services.watermark("transaction-risk") is None
    world.product_status("transaction-risk", "halted", "scorer down")
    at = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    world.watermark("transaction-risk", at)
    assert services.product_status("transaction-risk").status == "healthy"  # within the TTL
    time.sleep(0.35)
    assert services.product_status("transaction-risk").status == "halted"
    assert services.watermark("transaction-risk") == at
    services.dispose()


def test_a_revocation_applies_once_the_credential_ttl_passes(api_settings, world):
    import pytest

    from api.auth import CredentialStore
    from api.errors import ApiError

    _, key = world.tenant()
    store = CredentialStore(world.meta, api_settings, ttl_seconds=0.3)
    assert store.authenticate_cached(key) is None  # the row is read first
    assert store.authenticate(key).tier == "standard"
    assert store.authenticate_cached(key).tier == "standard"
    world.revoke(key)
    assert store.authenticate(key).tier == "standard"  # within the TTL
    with pytest.raises(ApiError) as wrong:
        store.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B"))
    assert wrong.value.code == "invalid_credentials"  # the secret is checked every time
    time.sleep(0.35)
    with pytest.raises(ApiError) as refused:
        store.authenticate(key)
    assert refused.value.code == "key_revoked"
