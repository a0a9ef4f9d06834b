"""The workshop page: the network's nodes side by side (status, chain head, index lag, each
node's own verdict on the selected record, and a tamper button on demo nodes), a record's
timeline checked against the chain with its links to other offices' records, the live feed
pushed by every node, the governance panel and a submit form for the presenter.

One static page (``api/static/workshop.html`` with its script and style, no build step, no
framework, nothing from a CDN) over the nodes' public JSON API, served by every node so a
presenter needs nothing but a browser.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ipchain.errors import NotFoundError

router = APIRouter(tags=["workshop"])

_ASSETS: Final = {
    "workshop.js": "text/javascript; charset=utf-8",
    "workshop.css": "text/css; charset=utf-8",
}


def _static(name: str) -> str:
    return resources.files("api").joinpath(f"static/{name}").read_text("utf-8")


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    """The node's home is the workshop page."""
    return RedirectResponse("/workshop")


@router.get("/workshop", response_class=HTMLResponse, summary="Workshop page")
def workshop() -> HTMLResponse:
    """The network view, record search and timeline with a verified/tampered badge per event,
    cross-office links, governance, the presenter's submit form and the live feed."""
    return HTMLResponse(_static("workshop.html"), headers={"Cache-Control": "no-cache"})


@router.get("/workshop/{name}", include_in_schema=False)
def workshop_asset(name: str) -> Response:
    """The page's script and style."""
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise NotFoundError(f"no workshop asset {name}")
    return Response(_static(name), media_type=media_type, headers={"Cache-Control": "no-cache"})
