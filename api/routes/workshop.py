"""The workshop page: offices, a record's timeline checked against the chain, the live feed.

One static page over the public JSON API (no build step, no framework), served by the node so a
presenter needs nothing but a browser.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

router = APIRouter(tags=["workshop"])


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    """The node's home is the workshop page."""
    return RedirectResponse("/workshop")


@router.get("/workshop", response_class=HTMLResponse, summary="Workshop page")
def workshop() -> HTMLResponse:
    """Offices, record search, a record's timeline with a verified/tampered badge per event,
    and the live feed of every office's events."""
    page = resources.files("api").joinpath("static/workshop.html").read_text("utf-8")
    return HTMLResponse(page)
