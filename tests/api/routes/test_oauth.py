"""OAuth2 client credentials and the JWTs they yield."""

from __future__ import annotations

import base64
from datetime import timedelta

import jwt
from apiworld import auth

from tollgate.clock import utcnow


def _token(client, client_id, secret):
    return client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )


def _claims(settings, tenant_id, client_id, **overrides):
    now = utcnow()
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": tenant_id,
        "client_id": client_id,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    return {**claims, **overrides}


def test_client_credentials_yield_a_short_lived_token_that_works(client, world, api_settings):
    tenant_id, _ = world.tenant("premium")
    client_id, secret = world.oauth_client(tenant_id)
    r = _token(client, client_id, secret)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == api_settings.jwt_ttl_seconds
    claims = jwt.decode(
        body["access_token"],
        api_settings.secret(),
        algorithms=["HS256"],
        audience=api_settings.jwt_audience,
    )
    assert (
        claims["sub"] == tenant_id and claims["exp"] - claims["iat"] == api_settings.jwt_ttl_seconds
    )
    products = client.get("/v1/products", headers=auth(body["access_token"]))
    assert products.status_code == 200 and products.json()["tier"] == "premium"


def test_http_basic_client_authentication(client, world):
    tenant_id, _ = world.tenant()
    client_id, secret = world.oauth_client(tenant_id)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    r = client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert r.status_code == 200


def test_wrong_secret_unknown_client_and_grant_type(client, world):
    tenant_id, _ = world.tenant()
    client_id, secret = world.oauth_client(tenant_id)
    assert _token(client, client_id, secret + "x").json()["error"]["code"] == "invalid_client"
    assert _token(client, "tgc_nobody", secret).status_code == 401
    r = client.post("/v1/oauth/token", data={"grant_type": "password", "client_id": client_id})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unsupported_grant_type"
    assert client.post("/v1/oauth/token", data={}).status_code == 422


def test_alg_none_is_refused(client, world, api_settings):
    tenant_id, _ = world.tenant()
    client_id, _ = world.oauth_client(tenant_id)
    unsigned = jwt.encode(_claims(api_settings, tenant_id, client_id), None, algorithm="none")
    r = client.get("/v1/products", headers=auth(unsigned))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"


def test_algorithm_other_than_the_pinned_one_is_refused(client, world, api_settings):
    tenant_id, _ = world.tenant()
    client_id, _ = world.oauth_client(tenant_id)
    # Same secret, different HMAC algorithm: a pinned verifier must still refuse it.
    other = jwt.encode(
        _claims(api_settings, tenant_id, client_id), api_settings.secret(), algorithm="HS512"
    )
    assert client.get("/v1/products", headers=auth(other)).status_code == 401


def test_wrong_audience_wrong_issuer_expired_and_forged_tokens(client, world, api_settings):
    tenant_id, _ = world.tenant()
    client_id, _ = world.oauth_client(tenant_id)
    secret = api_settings.secret()
    cases = {
        "invalid_token": [
            jwt.encode(_claims(api_settings, tenant_id, client_id, aud="someone-else"), secret),
            jwt.encode(_claims(api_settings, tenant_id, client_id, iss="evil"), secret),
            jwt.encode(_claims(api_settings, tenant_id, client_id), "not-the-secret-" * 3),
            jwt.encode(_claims(api_settings, "t-other", client_id), secret),
        ],
        "token_expired": [
            jwt.encode(
                _claims(
                    api_settings,
                    tenant_id,
                    client_id,
                    iat=utcnow() - timedelta(hours=2),
                    exp=utcnow() - timedelta(hours=1),
                ),
                secret,
            ),
        ],
    }
    for code, tokens in cases.items():
        for token in tokens:
            r = client.get("/v1/products", headers=auth(token))
            assert r.status_code == 401 and r.json()["error"]["code"] == code


def test_suspended_tenant_gets_no_token(client, world):
    tenant_id, _ = world.tenant()
    client_id, secret = world.oauth_client(tenant_id)
    world.set_tenant_status(tenant_id, "suspended")
    r = _token(client, client_id, secret)
    assert r.status_code == 401 and r.json()["error"]["code"] == "tenant_suspended"
