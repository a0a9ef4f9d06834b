"""Import jobs: an office uploads its register file (JSON Lines or ST.96 XML), streamed to the
node's disk outside the submit endpoint's 5 MiB limit, and polls the job while the node's
writer imports it — validated exactly as submissions are, resumable, nothing anchored twice
(:mod:`ipchain.node.imports`)."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request, Response, status
from starlette.concurrency import run_in_threadpool

from api.deps import AuthenticatedOffice, BaseUrl, Service
from api.problems import PROBLEM_MEDIA_TYPE
from api.schemas import ImportJobOut, Problem
from ipchain.errors import AuthorizationError, InvalidInputError
from ipchain.node.imports import MAX_UPLOAD_BYTES, check_upload_size

router = APIRouter(tags=["imports"])

_PROBLEM = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}

UPLOAD_MEDIA_TYPES: Final = ("application/x-ndjson", "application/jsonl", "application/xml")
"""What an upload may be: JSON Lines of event documents, or ST.96 XML."""

_UPLOAD_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "description": f"The register file, streamed (at most {MAX_UPLOAD_BYTES} bytes): JSON "
        "Lines of register event documents (each record's events in order), or ST.96 XML "
        "(tmk:TrademarkBag, dgn:DesignBag; docs/st96.md).",
        "content": {
            media_type: {"schema": {"type": "string", "format": "binary"}}
            for media_type in UPLOAD_MEDIA_TYPES
        },
    }
}


@router.post(
    "/offices/{office}/imports",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ImportJobOut,
    summary="Upload a register file to import",
    openapi_extra=_UPLOAD_BODY,
    responses={code: _PROBLEM for code in (401, 403, 413, 415, 422)},
)
async def upload_register(
    office: str,
    request: Request,
    response: Response,
    service: Service,
    caller: AuthenticatedOffice,
    base: BaseUrl,
) -> ImportJobOut:
    """Stream the office's register file to the node and queue its import; the node's writer
    imports it in batches as ``ipchain import`` would. Poll the returned job."""
    if office.upper() != caller:
        raise AuthorizationError(
            f"this token acts for {caller}: it cannot import {office.upper()}'s register"
        )
    jobs = service.import_jobs
    job, upload = await run_in_threadpool(jobs.create, caller)
    received = 0
    try:
        with upload:
            async for chunk in request.stream():
                received += len(chunk)
                check_upload_size(received)
                await run_in_threadpool(upload.write, chunk)
    except BaseException:
        await run_in_threadpool(jobs.discard, job)
        raise
    if received == 0:
        await run_in_threadpool(jobs.discard, job)
        raise InvalidInputError("the register file is empty", field="body")
    queued = await run_in_threadpool(jobs.queue, job, received)
    response.headers["Location"] = f"{base}/imports/{queued.id}"
    return ImportJobOut.of(queued, base)


@router.get(
    "/imports/{job_id}",
    response_model=ImportJobOut,
    summary="An import job",
    responses={401: _PROBLEM, 404: _PROBLEM},
)
def get_import(
    job_id: str, service: Service, caller: AuthenticatedOffice, base: BaseUrl
) -> ImportJobOut:
    """An import job of the token's office."""
    return ImportJobOut.of(service.import_jobs.get(caller, job_id), base)
