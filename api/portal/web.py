"""How every portal page is answered: templates, security headers, and errors as pages.

`PortalRoute` turns whatever a page raises into HTML: no session is the sign-in page, an
`ApiError` from the services the REST routes use is an error page with the same status
(so another tenant's export is 404 here as it is in the API).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from api.errors import ApiError
from api.portal.session import PortalError, SignInRequired, Viewer, current_viewer

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def _duration(seconds: float | int) -> str:
    seconds = int(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= 2 * size or (seconds >= size and seconds % size == 0):
            n = round(seconds / size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} s"


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else ""


def usd_text(cents: int) -> str:
    return f"{'-' if cents < 0 else ''}${abs(cents) / 100:,.2f}"


def price_text(usd: Decimal) -> str:
    """A unit price with the digits it has (at least cents): $0.10, $0.0005, -$5.00."""
    text = f"{abs(usd):.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{'-' if usd < 0 else ''}${whole}.{frac.ljust(2, '0')}"


templates.env.filters.update(duration=_duration, when=_when, usd=usd_text, price=price_text)
# Pages load only what the portal serves; no inline scripts, no framing, forms post home.
POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages show tenant data and once-shown secrets: never from a shared cache or history.
    "Cache-Control": "no-store",
}


def render(
    request: Request,
    template: str,
    viewer: Viewer | None = None,
    status: int = 200,
    **context: object,
) -> Response:
    response = templates.TemplateResponse(
        request, template, {"viewer": viewer, **context}, status_code=status
    )
    response.headers.update(_HEADERS)
    return response


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


async def error_page(request: Request, status: int, title: str, message: str) -> Response:
    """The error, with the portal's navigation when the visitor is signed in."""
    try:
        viewer = await current_viewer(request, request.app.state.services)
    except SignInRequired:
        viewer = None
    return render(request, "error.html", viewer, status, title=title, message=message)


class PortalRoute(APIRoute):
    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                target = request.url.path
                if request.method == "GET" and target not in ("/portal", "/portal/"):
                    return see_other(f"/portal/login?next={quote(target, safe='/')}")
                return see_other("/portal/login")
            except PortalError as exc:
                return await error_page(request, exc.status, exc.title, exc.message)
            except ApiError as exc:
                title = exc.code.replace("_", " ").capitalize()
                return await error_page(request, exc.status, title, exc.message)
            except RequestValidationError:
                if request.method != "GET":
                    message = "A field of the form is too long or malformed; correct it."
                    return await error_page(request, 422, "Form not valid", message)
                # A malformed id or month names nothing that exists.
                return await error_page(request, 404, "Not found", "There is no such page.")

        return route
