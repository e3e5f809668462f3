"""OAuth2 client credentials: trade a client id and secret for a short-lived access token."""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Header, Request
from pydantic import BaseModel, Field

from api.access import client_address, refuse_repeated_failures
from api.deps import ServicesDep
from api.errors import ApiError, error_responses

router = APIRouter(prefix="/v1/oauth", tags=["auth"])


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(examples=[900])


def _basic(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        client_id, _, secret = (
            base64.b64decode(authorization[6:], validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


@router.post(
    "/token",
    response_model=TokenResponse,
    responses=error_responses(400, 401, 413, 422, 429),
    summary="Issue an access token (grant_type=client_credentials)",
    openapi_extra={
        "responses": {
            "200": {
                "content": {
                    "application/json": {
                        "example": {
                            "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig",
                            "token_type": "Bearer",
                            "expires_in": 900,
                        }
                    }
                }
            }
        }
    },
)
async def token(
    request: Request,
    services: ServicesDep,
    grant_type: Annotated[
        str,
        # The schema names the one grant; another is answered as RFC 6749 says (400).
        Form(
            min_length=1,
            examples=["client_credentials"],
            json_schema_extra={"enum": ["client_credentials"]},
        ),
    ],
    client_id: Annotated[str | None, Form(min_length=1, max_length=64)] = None,
    client_secret: Annotated[str | None, Form(min_length=1, max_length=256)] = None,
    authorization: Annotated[
        str | None, Header(description="HTTP Basic client_id:client_secret")
    ] = None,
) -> TokenResponse:
    if grant_type != "client_credentials":
        raise ApiError(
            400, "unsupported_grant_type", "only grant_type=client_credentials is supported"
        )
    basic = _basic(authorization)
    if basic is not None:
        client_id, client_secret = basic
    if not client_id or not client_secret:
        raise ApiError(
            401,
            "invalid_client",
            "send client_id and client_secret",
            headers={"WWW-Authenticate": 'Basic realm="tollgate"'},
        )
    address = client_address(request)
    await refuse_repeated_failures(services, address)
    try:
        access = await asyncio.to_thread(services.credentials.issue_token, client_id, client_secret)
    except ApiError:
        await asyncio.to_thread(services.failed_logins.failed, address)
        raise
    return TokenResponse(access_token=access, expires_in=services.settings.jwt_ttl_seconds)
