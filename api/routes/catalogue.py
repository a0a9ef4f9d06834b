"""Key event codes of the catalogue, or those that may come next for a record (the workshop's
submit form offers them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Service
from api.problems import PROBLEM_MEDIA_TYPE
from api.routes.links import record_key
from api.schemas import Problem
from api.schemas_workshop import EventCodeList, EventCodeOut
from ipchain.register.catalog import IpType, RecordStatus, event_catalog

router = APIRouter(tags=["catalogue"])

_PROBLEM = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}


@router.get(
    "/event-codes",
    response_model=EventCodeList,
    summary="Key event codes",
    responses={404: _PROBLEM, 422: _PROBLEM},
)
def event_codes(
    service: Service,
    record: Annotated[
        str | None,
        Query(description="A record key: only the codes that may come next for it.", max_length=80),
    ] = None,
) -> EventCodeList:
    """The catalogue's key event codes (ST.61 for trademarks, ST.87 for designs): their names,
    ST.27 categories, the statuses each may follow (``allowed_after``; null for a record's
    first event) and the status it sets — the transitions the node enforces. With ``record``,
    only those its type and current status allow next. The document schema itself is the
    submit endpoint's request body in the OpenAPI document."""
    codes = list(event_catalog().codes.values())
    if record is None:
        return EventCodeList(
            record_key=None, status=None, items=[EventCodeOut.of(code) for code in codes]
        )
    office, _, rest = record.partition("/")
    ip_type, _, number = rest.partition("/")
    key = record_key(office, ip_type, number)
    view = service.queries.get_record(key)
    status = None if view.status is None else RecordStatus(view.status)
    allowed = [
        code
        for code in codes
        if code.applies_to(IpType(view.ip_type))
        and code.allows(status)
        and not code.requires_complete_data
    ]
    return EventCodeList(
        record_key=key, status=view.status, items=[EventCodeOut.of(code) for code in allowed]
    )
