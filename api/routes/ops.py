"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import ServicesDep
from api.errors import ApiError, error_responses

router = APIRouter(tags=["ops"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@router.get(
    "/healthz",
    response_model=Health,
    summary="The process is up",
    openapi_extra={
        "responses": {"200": {"content": {"application/json": {"example": {"status": "ok"}}}}}
    },
)
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses=error_responses(503),
    summary="The metadata DB and the live store answer, and the lake is readable",
    openapi_extra={
        "responses": {
            "200": {
                "content": {
                    "application/json": {
                        "example": {
                            "status": "ready",
                            "checks": {"metadata_db": "ok", "live_store": "ok", "lake": "ok"},
                        }
                    }
                }
            }
        }
    },
)
def readyz(services: ServicesDep) -> Readiness:
    checks: dict[str, str] = {}
    for name, engine in (
        ("metadata_db", services.metadata_engine),
        ("live_store", services.live_engine),
    ):
        try:
            with engine.connect() as conn:
                conn.execute(text("select 1"))
            checks[name] = "ok"
        except Exception as exc:  # any failure means not ready; report the kind, not the text
            checks[name] = f"failed: {type(exc).__name__}"
    lake = services.batch.lake.root
    checks["lake"] = "ok" if lake.is_dir() or not lake.exists() else "failed: not a directory"
    if any(v != "ok" for v in checks.values()):
        raise ApiError(503, "not_ready", "a dependency is not reachable", {"checks": checks})
    return Readiness(status="ready", checks=checks)


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics",
    responses={200: {"content": {"text/plain": {"example": "tollgate_api_responses_total 1"}}}},
)
def metrics(services: ServicesDep) -> Response:
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
