"""Demo-only routes (a node started with ``ipchain serve --demo``, ``IPCHAIN_DEMO=1``): the
workshop's tamper button. Never included otherwise: on a production node these paths are 404.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.deps import Service
from api.problems import PROBLEM_MEDIA_TYPE
from api.routes.links import record_key
from api.schemas import Problem
from api.schemas_workshop import TamperingOut
from ipchain.errors import UnsupportedMediaTypeError
from ipchain.register.tampering import stored_differences, tamper_record

router = APIRouter(tags=["demo"])

_PROBLEM = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}


@router.post(
    "/demo/records/{office}/{ip_type}/{number}/tamper",
    response_model=TamperingOut,
    summary="DEMO ONLY: tamper with this node's copy of a record",
    responses={404: _PROBLEM, 415: _PROBLEM, 422: _PROBLEM, 502: _PROBLEM, 503: _PROBLEM},
)
async def tamper(
    office: str, ip_type: str, number: str, request: Request, service: Service
) -> TamperingOut:
    """Change the record's holder in **this node's database** (the stored event document and
    the record data), as someone with write access to it could; the chain is untouched. The
    answer gives what changed and the differences this node now serves; ``GET …/verify``
    turns red for the record on this node only. The request must say ``Content-Type:
    application/json`` (any body): a page of another site cannot send that without the CORS
    preflight this node refuses it."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaTypeError(
            "send Content-Type: application/json (the body is ignored)", field="body"
        )
    key = record_key(office, ip_type, number)
    tampering = await run_in_threadpool(tamper_record, service.session_factory, key)
    result = await run_in_threadpool(
        stored_differences, service.session_factory, service.node.ledger, key
    )
    return TamperingOut.of(tampering, result)
