"""One error shape for every refusal: {"error": {"code", "message", "details"}}.

Codes are machine-readable and stable; messages are for people. Nothing here ever puts a
stack trace or an internal exception text into a response.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

log = logging.getLogger("tollgate.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    422: "invalid_request",
    429: "rate_limited",
    431: "headers_too_large",
    500: "internal_error",
    503: "unavailable",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    """A refusal the client should see, with its status, code and details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or {}
        self.headers = headers or {}


def error_response(
    status: int, code: str, message: str, details: dict | None = None, headers: dict | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status, headers=headers)


# Delta Sharing clients read `errorCode` and `message` (its protocol's error shape).
_SHARING_PATH = "/v1/sharing/"


def _respond(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: dict | None = None,
    headers: dict | None = None,
) -> JSONResponse:
    response = error_response(status, code, message, details, headers)
    if request.url.path.startswith(_SHARING_PATH):
        body = {"errorCode": code, "message": message, "error": {"code": code,
                "message": message, "details": details or {}}}  # fmt: skip
        return JSONResponse(body, status_code=status, headers=headers)
    return response


def _on_api_error(request: Request, exc: ApiError) -> JSONResponse:
    return _respond(request, exc.status, exc.code, exc.message, exc.details, exc.headers)


# FastAPI's refusal of a body it cannot decode: a request that does not validate, as every
# other such refusal is (422, documented on every route that takes a body).
_UNPARSEABLE_BODY = "There was an error parsing the body"


def _on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 400 and exc.detail == _UNPARSEABLE_BODY:
        return _respond(request, 422, "invalid_request", "the request body is not valid JSON")
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        # Starlette names only the first route on the path; a path may have several.
        headers["Allow"] = ", ".join(allowed_methods(request))
    return _respond(request, exc.status_code, code, message, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on the request's path."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE and getattr(route, "methods", None):
            methods |= route.methods
    return sorted(methods)


def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # Only location, message and type: raw inputs and ctx may hold unserialisable objects.
    problems = [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": e.get("type"),
        }
        for e in exc.errors()
    ]
    message = "the request is not valid"
    return _respond(request, 422, "invalid_request", message, {"errors": problems})


def _on_unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "an internal error occurred")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI `responses=` entries documenting the error shape for these statuses."""
    return {s: {"model": ErrorBody, "description": _HTTP_CODES.get(s, "error")} for s in statuses}
