"""What this node serves that the chain does not hold, field by field."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import Service
from api.problems import PROBLEM_MEDIA_TYPE
from api.routes.links import record_key
from api.schemas import Problem
from api.schemas_workshop import DifferencesOut
from ipchain.register.tampering import stored_differences

router = APIRouter(tags=["verification"])

_PROBLEM = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}


@router.get(
    "/records/{office}/{ip_type}/{number}/differences",
    response_model=DifferencesOut,
    summary="What this node serves that the chain does not hold",
    responses={404: _PROBLEM, 422: _PROBLEM, 502: _PROBLEM, 503: _PROBLEM},
)
async def differences(office: str, ip_type: str, number: str, service: Service) -> DifferencesOut:
    """Each event document this node stores for the record against the document the chain
    published for the same entry, and the stored record data against the data the anchored
    documents imply, in words: ``holder: Nortaar SAS → Mallory Holdings Ltd``. Empty when the
    node serves exactly what the chain holds (``GET …/verify`` gives the verdicts)."""
    key = record_key(office, ip_type, number)
    result = await run_in_threadpool(
        stored_differences, service.session_factory, service.node.ledger, key
    )
    return DifferencesOut.of(result)
