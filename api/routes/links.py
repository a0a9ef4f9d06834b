"""A record's links to other records and from them: priority claims, designations, seniority,
earlier rights (the workshop page shows them as chips both ways)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import BaseUrl, Service
from api.problems import PROBLEM_MEDIA_TYPE
from api.schemas import Problem
from api.schemas_workshop import LinkOut, RecordLinks
from ipchain.errors import InvalidInputError
from ipchain.register.catalog import RecordKey

router = APIRouter(tags=["records"])

_PROBLEM = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}


def record_key(office: str, ip_type: str, number: str) -> str:
    """The record key in its normal form (``422`` naming ``record_key`` otherwise)."""
    try:
        return str(RecordKey.parse(f"{office}/{ip_type}/{number}"))
    except InvalidInputError as error:
        raise InvalidInputError(str(error), field="record_key") from None


@router.get(
    "/records/{office}/{ip_type}/{number}/links",
    response_model=RecordLinks,
    summary="A record's links, both ways",
    responses={404: _PROBLEM, 422: _PROBLEM},
)
def record_links(
    office: str, ip_type: str, number: str, service: Service, base: BaseUrl
) -> RecordLinks:
    """Links the record's events carry to other records (``outgoing``: the priority it
    claims, the registration it designates from) and links other records' events carry to it
    (``incoming``: filings claiming its priority), each with the other record's mark and
    holder."""
    key = record_key(office, ip_type, number)
    links = service.queries.record_links(key)
    others = service.queries.record_summaries(
        [link.record_key for link in links if link.record_key]
    )
    return RecordLinks(
        record_key=key,
        items=[
            LinkOut.of(link, others.get(link.record_key) if link.record_key else None, base)
            for link in links
        ],
    )
