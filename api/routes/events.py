"""The event feed: every office's register events, newest first."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query

from api.deps import BaseUrl, Limit, Service
from api.problems import PROBLEM_MEDIA_TYPE
from api.schemas import Event, EventPage, Links, Problem

router = APIRouter(tags=["events"])

_PROBLEM = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}


@router.get(
    "/events",
    response_model=EventPage,
    summary="Event feed of all offices",
    responses={422: _PROBLEM},
)
def event_feed(
    service: Service,
    base: BaseUrl,
    cursor: Annotated[
        str | None, Query(description="next_cursor of the previous page.", max_length=200)
    ] = None,
    limit: Limit = 50,
    office: Annotated[
        str | None,
        Query(
            description="Only this office's events: an ST.3 code of the catalogue "
            "(case-insensitive).",
            pattern=r"^[A-Za-z]{2}$",
        ),
    ] = None,
) -> EventPage:
    """Anchored events of every office (or one), newest first, by cursor: a page never
    repeats or skips events, however many are anchored while paging. A cursor is only ever
    one this feed returned (``422`` otherwise)."""
    office = office.upper() if office else None
    views, following = service.queries.events_feed(cursor=cursor, limit=limit, office=office)

    def link(position: str | None) -> str:
        params: dict[str, str | int] = {"limit": limit}
        if office:
            params["office"] = office
        if position:
            params["cursor"] = position
        return f"{base}/events?{urlencode(params)}"

    return EventPage(
        items=[Event.of(view) for view in views],
        next_cursor=following,
        links=Links(self=link(cursor), next=link(following) if following else None),
    )
