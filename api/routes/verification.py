"""Verification: a record's stored history against the chain, its proof bundle, and checking
documents or bundles anyone sends."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.deps import BaseUrl, RecordNumber, RecordOffice, RecordType, Service
from api.problems import PROBLEM_MEDIA_TYPE
from api.schemas import Problem
from api.schemas_verification import (
    BundleVerificationOut,
    DocumentVerificationOut,
    RecordVerificationOut,
)
from ipchain.verification import BundleReport, Verifier
from ipchain.verification.bundle import FORMAT

router = APIRouter(tags=["verification"])

_PROBLEM = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}


def get_verifier(service: Service) -> Verifier:
    """The node's verifier (its index and chain connection)."""
    return service.verifier


Verification = Annotated[Verifier, Depends(get_verifier)]


def _key(office: str, ip_type: str, number: str) -> str:
    return f"{office}/{ip_type}/{number}"


@router.get(
    "/records/{office}/{ip_type}/{number}/verify",
    response_model=RecordVerificationOut,
    summary="Verify a record's stored history against the chain",
    responses={404: _PROBLEM, 422: _PROBLEM, 502: _PROBLEM, 503: _PROBLEM},
)
def verify_record(
    office: RecordOffice,
    ip_type: RecordType,
    number: RecordNumber,
    verification: Verification,
    base: BaseUrl,
) -> RecordVerificationOut:
    """Each event this node stores for the record, compared with the entry the chain holds:
    the document re-hashed (RFC 8785 + SHA-256), every stored field, the hash chain, and the
    anchored entry itself (genuine contracts, entry hash, signer authorised at its block).
    ``ok`` is false, and the event's ``status`` says how, for any difference: a database
    changed behind the node's back shows here."""
    result = verification.verify_stored_record(_key(office, ip_type, number))
    return RecordVerificationOut.of(result, base)


@router.get(
    "/records/{office}/{ip_type}/{number}/proof",
    summary="Download a record's proof bundle",
    response_class=Response,
    responses={
        200: {
            "content": {"application/json": {}},
            "description": "The proof bundle (docs/proof-bundle.md), as a file.",
        },
        404: _PROBLEM,
        422: _PROBLEM,
        502: _PROBLEM,
        503: _PROBLEM,
    },
)
def proof_bundle(
    office: RecordOffice, ip_type: RecordType, number: RecordNumber, verification: Verification
) -> Response:
    """The record's anchored history as a self-contained proof bundle, built from the chain
    alone: anyone can check it against any node of the chain with ``ipchain verify``, or
    ``POST`` it to ``/verify``."""
    record_key, content = verification.proof_bundle(_key(office, ip_type, number))
    filename = record_key.replace("/", "-") + ".proof.json"
    return Response(
        content,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


_VERIFY_BODY = {
    "requestBody": {
        "required": True,
        "description": f"A proof bundle (``format`` {FORMAT!r}) or a register event document.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@router.post(
    "/verify",
    response_model=DocumentVerificationOut | BundleVerificationOut,
    summary="Verify a document or a proof bundle",
    openapi_extra=_VERIFY_BODY,
    responses={
        400: _PROBLEM,
        413: _PROBLEM,
        415: _PROBLEM,
        422: _PROBLEM,
        502: _PROBLEM,
        503: _PROBLEM,
    },
)
async def verify_upload(
    request: Request, service: Service
) -> DocumentVerificationOut | BundleVerificationOut:
    """Send a proof bundle to have every entry checked against this node's chain (``kind``
    ``bundle``), or a register event document to learn whether, where and by whom it is
    anchored (``kind`` ``document``). Nothing is stored."""
    body = await request.body()  # its Content-Type was checked first (InputGuard: 415)
    verification = get_verifier(service)
    result = await run_in_threadpool(verification.verify_upload, body)
    if isinstance(result, BundleReport):
        return BundleVerificationOut.of(result)
    return DocumentVerificationOut.of(result)
