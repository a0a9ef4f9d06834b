"""Records: search the register, one record with its derived status, its event history."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from api.deps import (
    BaseUrl,
    IsoDate,
    Limit,
    Offset,
    RecordNumber,
    RecordOffice,
    RecordType,
    Service,
)
from api.problems import PROBLEM_MEDIA_TYPE
from api.schemas import (
    Event,
    Links,
    Problem,
    Record,
    RecordDetail,
    RecordHistory,
    RecordPage,
    RecordSelectionPage,
)
from ipchain.errors import InvalidInputError
from ipchain.register.catalog import RecordKey, RecordStatus
from ipchain.register.queries import SORT_KEYS, RecordFilter
from ipchain.register.st96 import export_record

router = APIRouter(tags=["records"])

_PROBLEM = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}
_RECORD_FIELDS = frozenset(Record.model_fields)


@router.get(
    "/records",
    response_model=RecordPage | RecordSelectionPage,
    summary="Search records",
    responses={422: _PROBLEM},
)
def search_records(
    request: Request,
    service: Service,
    base: BaseUrl,
    office: Annotated[
        str | None,
        Query(
            description="ST.3 office code of the catalogue (case-insensitive); the "
            "consortium's members are at /api/v1/offices.",
            pattern=r"^[A-Za-z]{2}$",
        ),
    ] = None,
    type: Annotated[
        Literal["TM", "DS"] | None, Query(description="TM (trademarks) or DS (designs).")
    ] = None,
    status: Annotated[
        RecordStatus | None, Query(description="Derived status, e.g. registered.")
    ] = None,
    nice_class: Annotated[int | None, Query(ge=1, le=45, description="A Nice class.")] = None,
    locarno_class: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{2}(-[0-9]{2})?$", description="Locarno class CC or CC-SS."),
    ] = None,
    text: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="Words in the mark (case-insensitive)."),
    ] = None,
    filed_from: Annotated[
        IsoDate | None, Query(description="Filed on or after (YYYY-MM-DD).")
    ] = None,
    filed_to: Annotated[
        IsoDate | None, Query(description="Filed on or before (YYYY-MM-DD).")
    ] = None,
    registered_from: Annotated[
        IsoDate | None, Query(description="Registered on or after (YYYY-MM-DD).")
    ] = None,
    registered_to: Annotated[
        IsoDate | None, Query(description="Registered on or before (YYYY-MM-DD).")
    ] = None,
    applicant: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Words in an applicant's name now (a holder's, after a recorded "
            "transfer), case-insensitive.",
        ),
    ] = None,
    vienna_code: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2})?)?$",
            description="A Vienna code of the mark's figurative elements: category (26), "
            "division (26.04) or section (26.04.01).",
        ),
    ] = None,
    links_to: Annotated[
        str | None,
        Query(
            description="Records whose events link to this record key (e.g. the filings "
            "claiming its priority): EM/TM/018000001.",
            max_length=80,
        ),
    ] = None,
    relation: Annotated[
        str | None,
        Query(
            description="Records whose events carry a link of this relation (priority, "
            "madrid-designation, seniority ...); with links_to, that link's relation.",
            max_length=32,
        ),
    ] = None,
    sort: Annotated[
        Literal["record_key", "filing_date", "registration_date", "updated"],
        Query(description=f"One of {', '.join(SORT_KEYS)}."),
    ] = "record_key",
    order: Annotated[Literal["asc", "desc"], Query()] = "asc",
    limit: Limit = 50,
    offset: Offset = 0,
    fields: Annotated[
        str | None,
        Query(
            description="Comma-separated record members to return (default: all).",
            max_length=1000,
        ),
    ] = None,
) -> Any:
    """Records matching every filter given, one page at a time (``limit``/``offset``), with
    the total and links to the neighbouring pages. Every filter is checked before the
    database is asked: ``office`` against the ST.3 catalogue, ``status`` against the
    derived statuses, dates as ``YYYY-MM-DD``, ``offset`` up to 10,000,000."""
    selected = _fields(fields)
    page = service.queries.search_records(
        RecordFilter(
            office=office.upper() if office else None,
            ip_type=type,
            status=status.value if status is not None else None,
            nice_class=nice_class,
            locarno_class=locarno_class,
            text=text,
            filed_from=filed_from,
            filed_to=filed_to,
            registered_from=registered_from,
            registered_to=registered_to,
            applicant=applicant,
            vienna_code=vienna_code,
            links_to=_linked_key(links_to) if links_to is not None else None,
            relation=relation,
        ),
        sort=sort,
        descending=order == "desc",
        limit=limit,
        offset=offset,
    )
    result = RecordPage(
        items=[Record.of(view, base) for view in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        links=_page_links(request, base, limit, offset, page.total),
    )
    if selected is None:
        return result
    content = result.model_dump(mode="json")
    content["items"] = [
        {k: v for k, v in item.items() if k in selected} for item in content["items"]
    ]
    return JSONResponse(content)


def _fields(fields: str | None) -> frozenset[str] | None:
    if fields is None:
        return None
    names = frozenset(name.strip() for name in fields.split(",") if name.strip())
    unknown = sorted(names - _RECORD_FIELDS)
    if unknown or not names:
        raise InvalidInputError(
            f"fields: {unknown[0] if unknown else '(empty)'} is not a record member; "
            f"choose from {', '.join(sorted(_RECORD_FIELDS))}",
            field="fields",
        )
    return names


def _page_links(request: Request, base: str, limit: int, offset: int, total: int) -> Links:
    params = dict(request.query_params)

    def at(position: int) -> str:
        return f"{base}/records?{urlencode({**params, 'limit': limit, 'offset': position})}"

    return Links(
        self=at(offset),
        next=at(offset + limit) if offset + limit < total else None,
        prev=at(max(offset - limit, 0)) if offset > 0 else None,
    )


def _linked_key(text: str) -> str:
    try:
        return str(RecordKey.parse(text))
    except InvalidInputError as error:
        raise InvalidInputError(str(error), field="links_to") from None


def _record_key(office: str, ip_type: str, number: str) -> str:
    try:
        return str(RecordKey.parse(f"{office}/{ip_type}/{number}"))
    except InvalidInputError as error:
        raise InvalidInputError(str(error), field="record_key") from None


@router.get(
    "/records/{office}/{ip_type}/{number}",
    response_model=RecordDetail,
    summary="One record",
    responses={404: _PROBLEM, 422: _PROBLEM},
)
def get_record(
    office: RecordOffice, ip_type: RecordType, number: RecordNumber, service: Service, base: BaseUrl
) -> RecordDetail:
    """A record with its status derived from its event history and its current data, and
    any flags on its events or chain logs of it this node quarantined (untrusted content it
    could not parse or store). The number may be written as the office prints it
    (``018 123 456``)."""
    key = _record_key(office, ip_type, number)
    view = service.queries.get_record(key)
    return RecordDetail.with_notes(view, service.queries.record_notes(key), base)


@router.get(
    "/records/{office}/{ip_type}/{number}/events",
    response_model=RecordHistory,
    summary="A record's event history",
    responses={404: _PROBLEM, 422: _PROBLEM},
)
def get_record_events(
    office: RecordOffice, ip_type: RecordType, number: RecordNumber, service: Service
) -> RecordHistory:
    """The record's events, oldest first, each with its document, document hash, entry hash
    and the entry hash it links to (the record's hash chain), and its block and transaction."""
    key = _record_key(office, ip_type, number)
    return RecordHistory(
        record_key=key, items=[Event.of(view) for view in service.queries.record_events(key)]
    )


@router.get(
    "/records/{office}/{ip_type}/{number}/st96",
    summary="A record as WIPO ST.96 XML",
    response_class=Response,
    responses={
        200: {
            "content": {"application/xml": {}},
            "description": "A tmk:TrademarkBag or dgn:DesignBag holding the record (ipchain's "
            "subset of ST.96 7.0: docs/st96.md).",
        },
        404: _PROBLEM,
        422: _PROBLEM,
    },
)
def get_record_st96(
    office: RecordOffice, ip_type: RecordType, number: RecordNumber, service: Service
) -> Response:
    """The record's current data as ST.96 XML: application number, filing, registration and
    expiry dates, status and status date, mark (verbal element, feature category, Vienna
    codes) or design (Locarno classes, product indications), goods and services, applicants,
    designers, representatives and the priorities it claims. ``ipchain import`` reads the
    same XML back."""
    key = _record_key(office, ip_type, number)
    return Response(export_record(service.queries, key), media_type="application/xml")
