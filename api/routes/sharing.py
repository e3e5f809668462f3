"""Delta Sharing: the tenant's batch products over the open protocol, for pandas, Spark and
BI tools (https://github.com/delta-io/delta-sharing/blob/main/PROTOCOL.md).

Each tenant has one share, named by its tenant id, with one schema (`batch`) holding the
batch products its tier and contracts entitle it to. A query answers with short-lived
signed URLs of the files of the tenant's view (`api.sharingfiles`); the rows are billed
when a file is downloaded, once per file (`api.routes.sharing_files`).

Errors carry the protocol's `errorCode` and `message` beside the API's `error` object.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.deps import PrincipalDep, ServicesDep
from api.errors import ApiError, error_responses
from api.sharing import (
    SCHEMA,
    column_types,
    metadata_action,
    prune,
    stable_id,
    table_version,
)
from api.sharingfiles import (
    PROTOCOL_ACTION,
    file_action,
    resolve_version,
    served_shape,
    shared_table,
    shared_tables,
    tenant_files,
)
from tollgate import audit
from tollgate.db.models import ApiKey
from tollgate.sharing import sharing_endpoint, sharing_profile

router = APIRouter(prefix="/v1/sharing", tags=["sharing"])
_ERRORS = error_responses(400, 401, 403, 404, 429, 503)
NDJSON = "application/x-ndjson; charset=utf-8"
VERSION_HEADER = "Delta-Table-Version"
PageToken = Annotated[str | None, Query(alias="pageToken", max_length=20)]
MaxResults = Annotated[int | None, Query(alias="maxResults", ge=0, le=1000)]


class SharingProfile(BaseModel):
    """A Delta Sharing profile file: save it and hand its path to the client."""

    shareCredentialsVersion: int = 1
    endpoint: str
    bearerToken: str
    expirationTime: str | None = None


class QueryRequest(BaseModel):
    """The protocol's query body; every field is optional."""

    model_config = ConfigDict(extra="ignore")
    predicateHints: list[Annotated[str, Field(max_length=200)]] | None = Field(
        default=None, max_length=10
    )
    jsonPredicateHints: str | None = Field(default=None, max_length=1000)
    limitHint: int | None = Field(default=None, ge=0)
    version: int | None = Field(default=None, ge=1)
    timestamp: datetime | None = None
    startingVersion: int | None = None
    endingVersion: int | None = None


def _page(items: list[dict], max_results: int | None, token: str | None) -> dict:
    start = int(token) if token and token.isdigit() else 0
    end = len(items) if max_results is None else start + max_results
    page: dict[str, Any] = {"items": items[start:end]}
    if end < len(items):
        page["nextPageToken"] = str(end)
    return page


def _own_share(principal, share: str) -> str:
    """The caller's share; another tenant's share is not found (its name is not disclosed)."""
    if share.lower() != principal.tenant_id:
        raise ApiError(404, "share_not_found", f"no share {share!r}", {"share": share})
    return principal.tenant_id


def _own_schema(principal, share: str, schema: str) -> str:
    name = _own_share(principal, share)
    if schema.lower() != SCHEMA:
        raise ApiError(404, "schema_not_found", f"no schema {schema!r} in share {share!r}")
    return name


def _share_item(tenant_id: str) -> dict:
    return {"name": tenant_id, "id": stable_id("share", tenant_id)}


def _table_item(tenant_id: str, table: str) -> dict:
    return {
        "name": table,
        "schema": SCHEMA,
        "share": tenant_id,
        "shareId": stable_id("share", tenant_id),
        "id": stable_id("table", table),
    }


@router.get(
    "/profile",
    response_model=SharingProfile,
    response_model_exclude_none=True,
    responses=error_responses(401, 429),
    summary="A Delta Sharing profile file for the credential this request carries",
)
def get_profile(request: Request, services: ServicesDep, principal: PrincipalDep) -> SharingProfile:
    token = request.headers["authorization"].split(" ", 1)[1].strip()
    base = services.settings.public_url or str(request.base_url)
    # The profile ends when its token does: an API key's expiry, an access token's `exp`.
    if principal.key_id is not None:
        with services.metadata_engine.connect() as conn:
            expires = conn.execute(
                select(ApiKey.expires_at).where(ApiKey.key_id == principal.key_id)
            ).scalar()
    else:  # already verified by the dependency; only its expiry is read here
        claims = jwt.decode(token, options={"verify_signature": False})
        expires = datetime.fromtimestamp(claims["exp"], UTC)
    if expires is not None and expires.tzinfo is None:  # SQLite hands back naive UTC
        expires = expires.replace(tzinfo=UTC)
    return SharingProfile(**sharing_profile(sharing_endpoint(base), token, expires))


@router.get("/shares", responses=_ERRORS, summary="List shares (the caller's one share)")
def list_shares(
    principal: PrincipalDep, maxResults: MaxResults = None, pageToken: PageToken = None
) -> dict:
    return _page([_share_item(principal.tenant_id)], maxResults, pageToken)


@router.get("/shares/{share}", responses=_ERRORS, summary="Get a share")
def get_share(principal: PrincipalDep, share: str) -> dict:
    return {"share": _share_item(_own_share(principal, share))}


@router.get("/shares/{share}/schemas", responses=_ERRORS, summary="List a share's schemas")
def list_schemas(
    principal: PrincipalDep, share: str, maxResults: MaxResults = None, pageToken: PageToken = None
) -> dict:
    name = _own_share(principal, share)
    return _page([{"name": SCHEMA, "share": name}], maxResults, pageToken)


@router.get(
    "/shares/{share}/schemas/{schema}/tables",
    responses=_ERRORS,
    summary="List the tables of a schema",
)
def list_tables(
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    share: str,
    schema: str,
    maxResults: MaxResults = None,
    pageToken: PageToken = None,
) -> dict:
    name = _own_schema(principal, share, schema)
    items = [_table_item(name, t) for t in shared_tables(services, principal)]
    return _page(items, maxResults, pageToken)


@router.get("/shares/{share}/all-tables", responses=_ERRORS, summary="List a share's tables")
def list_all_tables(
    services: ServicesDep,
    principal: PrincipalDep,
    share: str,
    maxResults: MaxResults = None,
    pageToken: PageToken = None,
) -> dict:
    name = _own_share(principal, share)
    items = [_table_item(name, t) for t in shared_tables(services, principal)]
    return _page(items, maxResults, pageToken)


TABLE = "/shares/{share}/schemas/{schema}/tables/{table}"


@router.api_route(
    TABLE + "/version", methods=["GET"], responses=_ERRORS, summary="A table's version"
)
@router.api_route(TABLE, methods=["HEAD"], include_in_schema=False)
def table_version_route(
    request: Request, services: ServicesDep, principal: PrincipalDep, share: str, schema: str,
    table: str,
) -> Response:  # fmt: skip
    _own_schema(principal, share, schema)
    product, terms, _ = shared_table(request, services, principal, table)
    version = resolve_version(services, product, terms, None, None)
    return Response(headers={VERSION_HEADER: str(table_version(version))})


@router.get(TABLE + "/metadata", responses=_ERRORS, summary="A table's schema and metadata")
def table_metadata(
    request: Request, services: ServicesDep, principal: PrincipalDep, share: str, schema: str,
    table: str,
) -> Response:  # fmt: skip
    _own_schema(principal, share, schema)
    product, terms, asked = shared_table(request, services, principal, table)
    version = resolve_version(services, product, terms, None, None)
    shape = served_shape(services, product, version, asked)
    return _ndjson([PROTOCOL_ACTION, metadata_action(product, shape)], version)


@router.post(
    TABLE + "/query",
    responses=error_responses(400, 401, 403, 404, 413, 429, 503),
    summary="The table's files, as signed URLs (JSON body, at most 1 KB)",
)
def query_table(
    request: Request, services: ServicesDep, principal: PrincipalDep, share: str, schema: str,
    table: str, body: Annotated[QueryRequest | None, Body()] = None,
) -> Response:  # fmt: skip
    _own_schema(principal, share, schema)
    q = body or QueryRequest()
    if q.startingVersion is not None or q.endingVersion is not None:
        raise ApiError(
            400,
            "unsupported_query",
            "change data feed and streaming reads are not offered; query a version",
        )
    product, terms, asked = shared_table(request, services, principal, table)
    version = resolve_version(services, product, terms, q.version, q.timestamp)
    shape = served_shape(services, product, version, asked)
    view, files = tenant_files(services, principal, product, version, shape)
    types = column_types(product, shape)
    files = prune(types, files, q.predicateHints, q.jsonPredicateHints, q.limitHint)
    credential = principal.credential
    base = services.settings.public_url or str(request.base_url)
    lines = [PROTOCOL_ACTION, metadata_action(product, shape)]
    lines += [file_action(services, base, principal, view, f) for f in files]
    audit.record_now(
        services.settings.metadata_db_url,
        principal.tenant_id,
        credential,
        "sharing.query",
        f"{product.id}@{version}",
        details={"view": view.view, "files": len(files), "rows": sum(f.rows for f in files)},
    )
    return _ndjson(lines, version)


def _ndjson(lines: list[dict], version: str) -> Response:
    body = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
    return Response(body, media_type=NDJSON, headers={VERSION_HEADER: str(table_version(version))})
