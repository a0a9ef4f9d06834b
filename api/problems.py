"""Errors as ``application/problem+json`` (RFC 9457), in the style of WIPO ST.90.

Every error response has the RFC members ``type``, ``title``, ``status``, ``detail`` and
``instance``, plus two extensions clients program against: ``code``, a stable identifier (the
``code`` of the :mod:`ipchain.errors` class, e.g. ``invalid-state-transition``), and
``field``, the part of the request the problem is about (``events[2].event_date``,
``limit``, ``Authorization``) when there is one. ``type`` is the URI reference
``/api/v1/problems/{code}``, which the API serves as a short description of the problem type.

This module also holds the body-size limit, an ASGI middleware that answers ``413`` before
reading more than the limit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ipchain.errors import (
    AuthenticationError,
    AuthorizationError,
    ChainError,
    ChainUnavailableError,
    ConflictError,
    ContractRevertError,
    InvalidInputError,
    IpchainError,
    MalformedBodyError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)

logger = logging.getLogger("ipchain.api")

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"

PROBLEMS_PATH: Final = "/api/v1/problems"

MAX_BODY_BYTES: Final = 5 * 1024 * 1024
"""Largest request body accepted (5 MiB; roughly 5,000 typical events)."""

# Most specific class first: the first match decides the status.
_STATUS_BY_CLASS: Final[tuple[tuple[type[IpchainError], int], ...]] = (
    (MalformedBodyError, 400),
    (UnsupportedMediaTypeError, 415),
    (PayloadTooLargeError, 413),
    (InvalidInputError, 422),
    (AuthenticationError, 401),
    (AuthorizationError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (ChainUnavailableError, 503),
    (ChainError, 502),
)

PROBLEM_TYPES: Final[dict[str, tuple[int, str]]] = {
    "malformed-json": (400, "The request body is not valid JSON"),
    "unsupported-media-type": (415, "The request body is not application/json"),
    "payload-too-large": (413, "The request body is too large"),
    "invalid-input": (422, "The request is not valid"),
    "not-canonicalizable": (422, "A value cannot be put in RFC 8785 canonical form"),
    "invalid-bundle": (422, "Not a valid proof bundle"),
    "unknown-office": (422, "Not a WIPO ST.3 office code of the consortium"),
    "unknown-event-code": (422, "Not an ST.61/ST.87 event code of the catalogue"),
    "invalid-record-key": (422, "Not a record key {office}/{TM|DS}/{number}"),
    "invalid-state-transition": (422, "The event makes no sense for the record's state"),
    "unauthenticated": (401, "A valid bearer token is required"),
    "forbidden": (403, "The credential may not do this"),
    "foreign-record": (403, "The record belongs to another office"),
    "not-found": (404, "No such resource"),
    "method-not-allowed": (405, "The resource does not support this method"),
    "conflict": (409, "The request conflicts with stored state"),
    "idempotency-key-reused": (409, "The Idempotency-Key was used for another request"),
    "chain-unavailable": (503, "The chain node does not answer"),
    "chain-error": (502, "The chain failed the request"),
    "contract-revert": (502, "The contract refused the transaction"),
    "internal-error": (500, "Internal error"),
    "unauthorized-office": (403, "The office may not write: not an active member, or key revoked"),
    "not-active-admin": (403, "Only the admin of an active office may propose and vote"),
    "not-issuer": (403, "Only the issuing office may revoke an attestation"),
    "already-voted": (409, "The office has already voted for this proposal"),
    "proposal-expired": (409, "The proposal's voting period is over"),
    "proposal-executed": (409, "The proposal has already been executed"),
    "threshold-not-reached": (409, "The proposal does not have the votes to execute"),
    "proposal-lapsed": (
        409,
        "The proposing office left Active or replaced its admin key: the proposal cannot pass",
    ),
    "last-active-office": (409, "The only active office cannot be suspended or removed"),
    "already-revoked": (409, "The attestation is already revoked"),
    "unknown-schema": (422, "Not an attestation schema the consortium approved"),
    "unknown-attestation": (422, "No attestation has this uid"),
    "not-signer": (403, "Only a current signer key of a member office may do this"),
    "invalid-certificate": (422, "Not a valid office certificate from the consortium CA"),
}
"""Problem codes the API returns: status and title of each."""

_INVALID: Final = (422, "invalid-input")
_CONFLICT: Final = (409, "conflict")
_NOT_FOUND: Final = (404, "not-found")
CONTRACT_ERRORS: Final[dict[str, tuple[int, str]]] = {
    # Who may: the contracts' authorisation decisions.
    "RegisterUnauthorizedOffice": (403, "unauthorized-office"),
    "AttestationUnauthorizedOffice": (403, "unauthorized-office"),
    "OfficeRegistryNotActiveAdmin": (403, "not-active-admin"),
    "AttestationNotIssuer": (403, "not-issuer"),
    "AttestationNotSigner": (403, "not-signer"),
    "AttestationNotRegistry": (403, "forbidden"),
    "OfficeRegistryNotDeployer": (403, "forbidden"),
    "RegisterForeignRecord": (403, "foreign-record"),
    # The state of what is acted on.
    "OfficeRegistryAlreadyVoted": (409, "already-voted"),
    "OfficeRegistryProposalExpired": (409, "proposal-expired"),
    "OfficeRegistryProposalAlreadyExecuted": (409, "proposal-executed"),
    "OfficeRegistryThresholdNotReached": (409, "threshold-not-reached"),
    "OfficeRegistryProposalLapsed": (409, "proposal-lapsed"),
    "OfficeRegistryLastActiveOffice": (409, "last-active-office"),
    "AttestationAlreadyRevoked": (409, "already-revoked"),
    "OfficeRegistryAttestationAlreadyRevoked": (409, "already-revoked"),
    "OfficeRegistryOfficeExists": _CONFLICT,
    "OfficeRegistryInvalidStatus": _CONFLICT,
    "OfficeRegistryAccountInUse": _CONFLICT,
    "OfficeRegistrySchemaAlreadyApproved": _CONFLICT,
    "OfficeRegistryAttestationRegistryNotBound": _CONFLICT,
    "OfficeRegistryAttestationRegistryBound": _CONFLICT,
    "OfficeRegistryUnknownProposal": _NOT_FOUND,
    "AttestationNotFound": _NOT_FOUND,
    # Input that can never succeed.
    "OfficeRegistryInvalidCode": (422, "unknown-office"),
    "OfficeRegistryUnknownOffice": (422, "unknown-office"),
    "AttestationUnknownSchema": (422, "unknown-schema"),
    "OfficeRegistryUnknownAttestation": (422, "unknown-attestation"),
    "OfficeRegistryUnknownSigner": _INVALID,
    "OfficeRegistryInvalidThreshold": _INVALID,
    "OfficeRegistryInvalidProposal": _INVALID,
    "OfficeRegistryUnknownAction": _INVALID,
    "OfficeRegistryInvalidVotingPeriod": _INVALID,
    "OfficeRegistryInvalidFounder": _INVALID,
    "OfficeRegistryNoFounders": _INVALID,
    "OfficeRegistryForeignAttestationRegistry": _INVALID,
    "AttestationDeadlineTooFar": _INVALID,
    "AttestationUnknownReference": _INVALID,
    "AttestationInvalidExpiry": _INVALID,
    "AttestationZeroClaimHash": _INVALID,
    "AttestationExpiredDeadline": _INVALID,
    "AttestationInvalidSignature": _INVALID,
    "AttestationInvalidNonce": _INVALID,
}
"""Status and problem code of each contract custom error a write may meet; other reverts are
``502 contract-revert``. The problem carries the error's name as ``contract_error``."""


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    field: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    """A problem+json response (``extensions``: further members, e.g. ``contract_error``)."""
    body: dict[str, Any] = {
        "type": f"{PROBLEMS_PATH}/{code}",
        "title": title or PROBLEM_TYPES.get(code, (status, code))[1],
        "status": status,
        "detail": detail,
        "code": code,
    }
    if field is not None:
        body["field"] = field
    if instance is not None:
        body["instance"] = instance
    body.update(extensions or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def status_of(error: IpchainError) -> int:
    """The HTTP status of an ipchain error."""
    if isinstance(error, ContractRevertError) and error.error_name in CONTRACT_ERRORS:
        return CONTRACT_ERRORS[error.error_name][0]
    for cls, status in _STATUS_BY_CLASS:
        if isinstance(error, cls):
            return status
    return 500


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a problem+json response."""

    async def ipchain_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, IpchainError)
        status = status_of(error)
        if status >= 500:
            logger.warning("%s %s: %s", request.method, request.url.path, error)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        code, extensions = error.code, None
        if isinstance(error, ContractRevertError) and error.error_name:
            # The contract's custom error decides the problem (CONTRACT_ERRORS) and is named.
            code = CONTRACT_ERRORS.get(error.error_name, (status, code))[1]
            extensions = {"contract_error": error.error_name}
        return problem_response(
            status,
            code,
            str(error),
            instance=request.url.path,
            field=getattr(error, "field", None),
            headers=headers,
            extensions=extensions,
        )

    async def validation_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        first = error.errors()[0] if error.errors() else {}
        location = [str(part) for part in first.get("loc", ())]
        # ("query", "limit") -> "limit"; ("header", "idempotency-key") -> "Idempotency-Key"
        where = location[0] if location else ""
        parts = location[1:] if where in ("query", "path", "header", "body") else location
        field = ".".join(parts) or None
        if where == "header" and field:
            field = "-".join(word.capitalize() for word in field.replace("_", "-").split("-"))
        message = first.get("msg", "invalid request")
        return problem_response(
            422,
            "invalid-input",
            f"{field}: {message}" if field else message,
            instance=request.url.path,
            field=field,
        )

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        code = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code)
        code = code or ("invalid-input" if error.status_code < 500 else "internal-error")
        return problem_response(
            error.status_code,
            code,
            str(error.detail),
            instance=request.url.path,
            headers=getattr(error, "headers", None),
        )

    async def unexpected_error(request: Request, error: Exception) -> JSONResponse:
        logger.exception("%s %s failed", request.method, request.url.path, exc_info=error)
        return problem_response(
            500,
            "internal-error",
            "the node failed to handle the request",
            instance=request.url.path,
        )

    app.add_exception_handler(IpchainError, ipchain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)


# --- body size limit ------------------------------------------------------------------------

_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]


class _BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """ASGI middleware refusing request bodies over ``max_bytes`` with a 413 problem: by the
    ``Content-Length`` header when there is one, else while the body streams in."""

    def __init__(self, app: Callable[..., Awaitable[None]], max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        response_started = False

        async def limited_receive() -> _Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: _Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if response_started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        response = problem_response(
            413,
            PayloadTooLargeError.code,
            f"the request body is larger than {self.max_bytes} bytes",
            instance=scope.get("path"),
            field="body",
        )
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _content_length(scope: _Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
