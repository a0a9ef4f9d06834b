"""Offices: the consortium's members, and where an office submits its register events."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Header, Request, Response, status
from starlette.concurrency import run_in_threadpool

from api.deps import AuthenticatedOffice, BaseUrl, Service
from api.problems import PROBLEM_MEDIA_TYPE
from api.routes.governance import office_detail
from api.schemas import Office, OfficeDetail, OfficeList, Problem, Submission
from ipchain.encoding import parse_json_strict
from ipchain.errors import (
    AuthorizationError,
    CanonicalizationError,
    InvalidInputError,
    MalformedBodyError,
    NotFoundError,
)
from ipchain.register.document_schema import register_event_schema
from ipchain.register.submissions import MAX_EVENTS_PER_SUBMISSION, SubmissionView

router = APIRouter(tags=["offices"])

_PROBLEM = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}


@router.get("/offices", response_model=OfficeList, summary="Member offices")
def list_offices(service: Service, base: BaseUrl) -> OfficeList:
    """Every office ever admitted to the consortium, in order of admission, with how much of
    its register this node has indexed."""
    stats = service.queries.office_stats()
    return OfficeList(
        items=[Office.of(office, stats.get(office.code), base) for office in service.offices()]
    )


@router.get(
    "/offices/{office}",
    response_model=OfficeDetail,
    summary="One member office",
    responses={404: _PROBLEM},
)
def get_office(office: str, service: Service, base: BaseUrl) -> OfficeDetail:
    """One office of the consortium, with its status history, signer keys (revoked ones
    too) and the attestation binding its X.509 certificate to its accounts."""
    for info in service.offices():
        if info.code == office.upper():
            summary = Office.of(info, service.queries.office_stats().get(info.code), base)
            return office_detail(service, OfficeDetail(**summary.model_dump()), base)
    raise NotFoundError(f"office {office} is not a member of the consortium")


# The published document schema, inline (OpenAPI 3.1 schemas are JSON Schema 2020-12); its
# own $schema and $id are left out, as a schema object embedded in the document.
_EVENT_DOCUMENT: Final[dict[str, Any]] = {
    key: value for key, value in register_event_schema().items() if key not in ("$schema", "$id")
}

_FILING: Final[dict[str, Any]] = {
    "schema": "ipchain/register-event/v1",
    "record_key": "EM/TM/018123456",
    "event_code": "A10",
    "event_date": "2025-03-14",
    "record_data": {
        "mark_verbal_element_text": "NORDLICHT",
        "mark_feature_category": "Word",
        "nice_classes": [
            {"class_number": 9, "descriptions": [{"language_code": "en", "text": "Software"}]}
        ],
        "applicants": [{"name": "Nordlicht GmbH", "country_code": "DE"}],
        "application_date": "2025-03-14",
    },
}


def _follow_up(code: str, day: str, **fields: Any) -> dict[str, Any]:
    return {
        "schema": "ipchain/register-event/v1",
        "record_key": "EM/TM/018123456",
        "event_code": code,
        "event_date": day,
        **fields,
    }


_FOLLOW_UPS: Final[dict[str, tuple[str, dict[str, Any]]]] = {
    "examination": ("Examination started (D10)", _follow_up("D10", "2025-03-20")),
    "publication": ("Application published (Q10)", _follow_up("Q10", "2025-04-02")),
    "opposition": (
        "Opposition filed (E10), with the office's own code",
        _follow_up("E10", "2025-05-30", national_code="OPP", office_reference="B 3 241 117"),
    ),
    "registration": (
        "Right registered (F10)",
        _follow_up(
            "F10",
            "2025-07-10",
            record_data={
                "registration_date": "2025-07-10",
                "registration_number": "018123456",
                "expiry_date": "2035-03-14",
            },
        ),
    ),
    "renewal": (
        "Right renewed (M10)",
        _follow_up("M10", "2035-02-01", record_data={"expiry_date": "2045-03-14"}),
    ),
    "transfer": (
        "Transfer of ownership recorded (R10): the new holder",
        _follow_up(
            "R10",
            "2026-09-01",
            record_data={"applicants": [{"name": "Aurora Holdings SA", "country_code": "LU"}]},
        ),
    ),
}

_SUBMIT_EXAMPLES: Final[dict[str, Any]] = {
    "filing": {"summary": "One trademark filing (A10)", "value": _FILING},
    "priority-claim": {
        "summary": "A filing claiming the priority of another office's first filing",
        "value": {
            **_FILING,
            "record_key": "EM/TM/018123457",
            "event_date": "2025-06-30",
            "record_data": {**_FILING["record_data"], "application_date": "2025-06-30"},
            "links": [
                {"relation": "priority", "record_key": "AU/TM/2512345", "link_date": "2025-01-10"}
            ],
        },
    },
    **{
        name: {"summary": summary, "value": value} for name, (summary, value) in _FOLLOW_UPS.items()
    },
    "batch": {
        "summary": "A filing and its first follow-ups, accepted or refused together",
        "value": {
            "events": [_FILING, _FOLLOW_UPS["examination"][1], _FOLLOW_UPS["publication"][1]]
        },
    },
}
"""The submit body's examples: each is a valid document (tests/test_document_schema.py)."""

_SUBMIT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        _EVENT_DOCUMENT,
                        {
                            "type": "object",
                            "description": "Several events, accepted or refused together.",
                            "required": ["events"],
                            "additionalProperties": False,
                            "properties": {
                                "events": {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": MAX_EVENTS_PER_SUBMISSION,
                                    "items": _EVENT_DOCUMENT,
                                }
                            },
                        },
                    ]
                },
                "examples": _SUBMIT_EXAMPLES,
            }
        },
    }
}


@router.post(
    "/offices/{office}/events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Submission,
    summary="Submit register events",
    openapi_extra=_SUBMIT_BODY,
    responses={
        200: {"model": Submission, "description": "A retry: the submission made the first time."},
        400: _PROBLEM,
        401: _PROBLEM,
        403: _PROBLEM,
        409: _PROBLEM,
        413: _PROBLEM,
        415: _PROBLEM,
        422: _PROBLEM,
    },
)
async def submit_events(
    office: str,
    request: Request,
    response: Response,
    service: Service,
    caller: AuthenticatedOffice,
    base: BaseUrl,
    idempotency_key: Annotated[
        str | None,
        Header(
            description="Makes retries safe: the same key and body return the first "
            "submission; the same key with another body is refused (409).",
            max_length=255,
        ),
    ] = None,
) -> Submission:
    """Submit one event document, or ``{"events": [...]}`` for several, for records of the
    office the token is bound to. Every event is validated (document, record office, state
    transition after the record's history) and the whole request is refused if one event is
    bad. Accepted events are stored durably and anchored in batches: the answer is
    ``202 Accepted`` with the submission to poll until it is ``anchored``."""
    if office != caller:
        error = AuthorizationError(f"a token of office {caller} cannot submit for office {office}")
        error.field = "office"  # type: ignore[attr-defined]
        raise error
    # The token (401) and the Content-Type (415) were checked before the body is read here
    # (api.problems.InputGuard).
    content = await request.body()

    def accept() -> SubmissionView:  # parsing and validation are CPU work: off the event loop
        service.governance_actions.check_can_write(office)  # suspended, removed, key revoked
        documents, batch = _documents(content)
        return service.submissions.submit(office, documents, idempotency_key, batch=batch)

    view = await run_in_threadpool(accept)
    location = f"{base}/submissions/{view.id}"
    response.headers["Location"] = location
    if view.replayed:
        response.status_code = status.HTTP_200_OK
    return Submission.of(view, base)


def _documents(body: bytes) -> tuple[list[Any], bool]:
    """The event documents of a request body and whether it was the batch form."""
    if not body.strip():
        raise MalformedBodyError("the request body is empty", field="body")
    try:
        parsed = parse_json_strict(body)
    except CanonicalizationError as error:
        if error.field is None:
            error.field = "body"
        raise
    except InvalidInputError as error:
        raise MalformedBodyError(f"body: {error}", field="body") from None
    if isinstance(parsed, list):
        return parsed, True
    if isinstance(parsed, dict) and "events" in parsed:
        unknown = sorted(set(parsed) - {"events"})
        if unknown:
            raise InvalidInputError(
                f"{unknown[0]}: is not a field of a batch (only 'events')", field=unknown[0]
            )
        events = parsed["events"]
        if not isinstance(events, list):
            raise InvalidInputError("events: must be a JSON array", field="events")
        return events, True
    if isinstance(parsed, dict):
        return [parsed], False
    raise InvalidInputError('body: must be an event document or {"events": [...]}', field="body")
