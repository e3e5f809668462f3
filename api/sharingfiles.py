"""What a tenant's share holds: its tables, the snapshot version it may read, and the files
of its view, handed out as signed URLs.

The view is the one every channel applies (`tollgate.tenant_view`: the tenant's regions,
its tier's delay and sample), applied by choosing files: a file of another
region, a day past the delay, or the unsampled rows of a sampled tier is never listed.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote, urlencode

from fastapi import Request

from api.auth import Principal
from api.contracts import purchased_version
from api.deps import entitled, held_shape, schema_version, view_of
from api.errors import ApiError
from api.services import Services
from api.sharing import file_stats, snapshot_version, stable_id
from tollgate.catalog import Product
from tollgate.clock import utcnow
from tollgate.contracts import Terms
from tollgate.exports import download_params
from tollgate.schema_versions import VersionShape
from tollgate.sharing import SharedFile, SharedView, view_name

_VERSIONED = re.compile(r"^([a-z][a-z0-9-]*)_v(\d+)_(\d+)$")
PROTOCOL_ACTION = {"protocol": {"minReaderVersion": 1}}
FILES_ROUTE = "/v1/sharing/files"


def table_name(product_id: str, schema_version: str | None = None) -> str:
    """A product's table: in the version REST serves by default, or (`<product>_v1_2`) in
    an older declared schema version, while it is not retired."""
    if schema_version is None:
        return product_id
    return f"{product_id}_v{schema_version.replace('.', '_')}"


def shared_tables(services: Services, principal: Principal) -> list[str]:
    """The tables of the batch products the tenant's tier, contracts and residency let it
    read now."""
    tier = services.catalog.tiers[principal.tier]
    now = utcnow()
    tables = []
    for product in services.catalog.batch_products():
        if product.id not in tier.products:
            continue
        try:
            services.contracts.terms_for(principal, product, "export")
            view_of(services, principal, product, None, product.schema_version.version)
        except ApiError:
            # Not bought, a trial that ended, or data of regions the tenant may not
            # receive: not in the share.
            continue
        tables.append(table_name(product.id))
        current = product.schema_version.version
        for name, shape in product.shapes().items():
            if name != current and not shape.retired(now):
                tables.append(table_name(product.id, name))
    return tables


def shared_table(
    request: Request, services: Services, principal: Principal, table: str
) -> tuple[Product, Terms, str | None]:
    """The product a table names, the terms it is served under and the schema version the
    table asks for (None: the default); 404 unknown, 403 not entitled or not bought, 410
    a retired schema version."""
    name = table.lower()
    versioned = _VERSIONED.match(name)
    product_id, asked = (name, None)
    if versioned:
        product_id, asked = versioned[1], f"{versioned[2]}.{versioned[3]}"
    product = next((p for p in services.catalog.batch_products() if p.id == product_id), None)
    declared = product is not None and (asked is None or asked in product.shapes())
    if product is None or not declared or asked == product.schema_version.version:
        raise ApiError(404, "table_not_found", f"no table {table!r}", {"table": table})
    entitled(services, principal, product.id)
    terms = services.contracts.terms_for(principal, product, "export")
    schema_version(product, asked)  # 410 for a retired version
    request.state.product = product.id
    request.state.terms = terms
    return product, terms, asked


def served_shape(
    services: Services, product: Product, version: str, asked: str | None
) -> VersionShape:
    """The columns a table serves from a snapshot version, as REST would: the version asked
    for (409 if the snapshot lacks its columns), by default the current one, or the one the
    snapshot was written in when it lacks the current one's."""
    held = services.batch.lake.read_manifest(product.id, version).schema_version
    return held_shape(product, schema_version(product, asked), asked is not None, held)


def resolve_version(
    services: Services,
    product: Product,
    terms: Terms,
    asked: int | None,
    at: datetime | None,
) -> str:
    """The snapshot version to serve: the one asked for (a table version, or the newest
    published by a time), else the current one; within what a purchase grants."""
    status = services.product_status(product.id)
    if status.status == "halted":
        raise ApiError(
            503,
            "product_halted",
            f"{product.id} is halted: {status.reason or 'quality gate'}",
            {"product_id": product.id},
            headers={"Retry-After": "60"},
        )
    lake = services.batch.lake
    # A degraded product serves the last version that passed its quality gate.
    current = services.served_version(product.id)
    if current is None:
        raise ApiError(
            503,
            "not_published",
            f"{product.id} has no published snapshot yet",
            {"product_id": product.id},
            headers={"Retry-After": "300"},
        )
    if asked is None and at is None:
        return purchased_version(lake, terms, product.id, current)
    served = [
        v for v in lake.snapshot_versions(product.id) if v <= current and v != status.failed_version
    ]
    if asked is not None:
        version = snapshot_version(asked) if snapshot_version(asked) in served else None
    else:
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        published = [v for v in served if lake.read_manifest(product.id, v).created_at <= at]
        version = published[-1] if published else None
    if version is None:
        raise ApiError(
            404,
            "version_not_found",
            f"{product.id} has no such published version",
            {"versions": [int(v[1:]) for v in served]},
        )
    if purchased_version(lake, terms, product.id, version) != version:
        raise ApiError(
            403,
            "purchase_required",
            f"version {int(version[1:])} of {product.id} was published after the purchase's "
            "updates ended",
            {"product_id": product.id},
        )
    return version


def in_view(
    product: Product, f: SharedFile, regions: list[str] | None, cutoff: date | None
) -> bool:
    """Whether a file's rows are all in the tenant's view (regions, trial delay)."""
    if regions is not None and product.region_column and f.region not in regions:
        return False
    return cutoff is None or (f.day is not None and f.day <= cutoff)


def tenant_files(
    services: Services, principal: Principal, product: Product, version: str, shape: VersionShape
) -> tuple[SharedView, list[SharedFile]]:
    """The tenant's view of a version in a schema version, and the files in it."""
    seen = view_of(services, principal, product, None, shape.name)
    regions = list(seen.regions) if seen.regions is not None else None
    name = view_name(seen.sample_fraction, shape.name)
    view = services.sharing.view(product, version, name, shape)
    cutoff = seen.not_after_date(utcnow())
    return view, [f for f in view.files if in_view(product, f, regions, cutoff)]


def file_id(view: SharedView, f: SharedFile) -> str:
    return stable_id("file", view.product_id, view.version, view.view, f.part)


def file_action(
    services: Services, base_url: str, principal: Principal, view: SharedView, f: SharedFile
) -> dict:
    """A file line of a query answer: its signed URL (valid for the settings' TTL)."""
    ttl = timedelta(seconds=services.settings.sharing_url_ttl_seconds)
    expires_at = utcnow() + ttl
    path = f"{view.product_id}/{view.version}/{view.view}/{f.part}"
    params = download_params(
        services.settings.secret(), path, principal.tenant_id, expires_at, principal.credential
    )
    url = (
        f"{base_url.rstrip('/')}{FILES_ROUTE}/{quote(principal.tenant_id)}/{path}.parquet"
        f"?{urlencode(params)}"
    )
    return {
        "file": {
            "url": url,
            "id": file_id(view, f),
            "partitionValues": {},
            "size": f.bytes,
            "stats": file_stats(f),
            "expirationTimestamp": int(params["expires"]) * 1000,
        }
    }
