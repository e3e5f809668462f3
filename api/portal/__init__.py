"""The buyer portal at /portal: server-rendered pages over the services the API uses.

`install(app)` adds its pages and its static files (CSS only; every page reads and works
without JavaScript, and nothing is loaded from anywhere but this server).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.portal import admin, billing, catalog, exports, keys, signin, webhooks
from api.portal.web import HERE


def install(app: FastAPI) -> None:
    for module in (signin, catalog, keys, billing, exports, webhooks, admin):
        app.include_router(module.router)
    app.mount("/portal/static", StaticFiles(directory=HERE / "static"), name="portal-static")
