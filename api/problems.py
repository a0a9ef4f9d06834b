"""Errors as ``application/problem+json`` (RFC 9457), in the style of WIPO ST.90.

Every error response has the RFC members ``type``, ``title``, ``status``, ``detail`` and
``instance``, plus two extensions clients program against: ``code``, a stable identifier (the
``code`` of the :mod:`ipchain.errors` class, e.g. ``invalid-state-transition``), and
``field``, the part of the request the problem is about (``events[2].event_date``,
``limit``, ``Authorization``) when there is one. ``type`` is the URI reference
``/api/v1/problems/{code}``, which the API serves as a short description of the problem type.

This module also holds what answers before a route runs, each as a problem too:

- :class:`InputGuard` refuses query and path parameters that are not UTF-8 or hold control
  characters (``422`` naming the parameter) before any route, so no database sees them;
- :class:`BodySizeLimit` answers ``413`` before reading more than the limit;
- :class:`ProblemH11Protocol` is uvicorn's HTTP/1.1 protocol with its own ``400`` (a request
  h11 cannot parse: a bad ``Content-Length``, a malformed request line) and ``431`` (headers
  over h11's 16 KiB buffer) sent as problems instead of uvicorn's plain text;
- :func:`install_problem_handlers` maps errors to problems (a database locked past its busy
  timeout, or a PostgreSQL lock timeout or serialization failure, is ``503`` with
  ``Retry-After``), lists every method of a path in a ``405``'s ``Allow``, and makes the
  OpenAPI document say what the API answers: every error as ``application/problem+json``
  with each status an operation can return.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import unquote_to_bytes

import h11
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sql_errors
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.protocols.http.h11_impl import H11Protocol

from api.deps import authenticate_request, check_body_type
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

H11_MAX_HEADER_BYTES: Final = 16 * 1024
"""h11's default buffer for a request line and headers (uvicorn keeps it unless told)."""

RETRY_AFTER_SECONDS: Final = 2
"""``Retry-After`` of a ``503``: the database or the chain is busy or away for a moment."""

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
    "bad-request": (400, "The HTTP request cannot be parsed"),
    "request-header-fields-too-large": (431, "The request line and headers are too large"),
    "unsupported-media-type": (415, "The request body is not application/json in UTF-8"),
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
    "database-busy": (503, "The node's database is busy: retry after Retry-After seconds"),
    "anchoring-stopped": (503, "The node is not anchoring now: retry after Retry-After seconds"),
    "node-unavailable": (503, "Anchoring or indexing is stopped: GET /health says why"),
    "database-unavailable": (503, "The node's database does not answer"),
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
    if status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS), **(headers or {})}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def status_of(error: IpchainError) -> int:
    """The HTTP status of an ipchain error."""
    if isinstance(error, ContractRevertError) and error.error_name in CONTRACT_ERRORS:
        return CONTRACT_ERRORS[error.error_name][0]
    for cls, status in _STATUS_BY_CLASS:
        if isinstance(error, cls):
            return status
    return 500


def error_response(error: IpchainError, method: str, path: str) -> JSONResponse:
    """The problem response of an ipchain error."""
    status = status_of(error)
    if status >= 500:
        logger.warning("%s %s: %s", method, path, error)
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
        instance=path,
        field=getattr(error, "field", None),
        headers=headers,
        extensions=extensions,
    )


def database_response(error: sql_errors.SQLAlchemyError, method: str, path: str) -> JSONResponse:
    """``503`` for a database that is busy (locked, a lock or statement timeout) or away."""
    busy = is_database_busy(error)
    logger.warning(
        "%s %s: database %s: %s",
        method,
        path,
        "busy" if busy else "unavailable",
        str(error).splitlines()[0] if str(error) else type(error).__name__,
    )
    return problem_response(
        503,
        "database-busy" if busy else "database-unavailable",
        "the node's database is busy (locked by another writer, or a lock or statement "
        "timed out): retry later"
        if busy
        else "the node's database does not answer: retry later",
        instance=path,
    )


_DATABASE_ERRORS: Final = (
    sql_errors.OperationalError,  # SQLite "database is locked", PostgreSQL lock timeouts
    sql_errors.TimeoutError,  # no pooled connection free within the pool's timeout
    sql_errors.DisconnectionError,
)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a problem+json response, refuse control characters in
    parameters before any route (:class:`InputGuard`), and document the problems in the
    OpenAPI document (:func:`document_problems`)."""

    async def ipchain_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, IpchainError)
        return error_response(error, request.method, request.url.path)

    async def validation_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        first = error.errors()[0] if error.errors() else {}
        if first.get("type") == "json_invalid":  # a body that does not parse is a 400
            return problem_response(
                400,
                "malformed-json",
                f"body: {first.get('ctx', {}).get('error', 'not valid JSON')}",
                instance=request.url.path,
                field="body",
            )
        location = [str(part) for part in first.get("loc", ())]
        # ("query", "limit") -> "limit"; ("header", "idempotency-key") -> "Idempotency-Key"
        where = location[0] if location else ""
        parts = location[1:] if where in ("query", "path", "header", "body") else location
        field = ".".join(parts) or None
        if where == "header" and field:
            field = "-".join(word.capitalize() for word in field.replace("_", "-").split("-"))
        message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
        return problem_response(
            422,
            "invalid-input",
            f"{field}: {message}" if field else message,
            instance=request.url.path,
            field=field,
        )

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        headers = dict(getattr(error, "headers", None) or {})
        field = None
        if error.status_code == 405:
            # Starlette names only the methods of the one route it tried; a path served by
            # several routes (GET and POST /proposals) supports them all.
            headers["Allow"] = allowed_methods(app, request.url.path, headers.get("Allow", ""))
        code = {400: "malformed-json", 404: "not-found", 405: "method-not-allowed"}.get(
            error.status_code
        )
        if code == "malformed-json":
            field = "body"  # FastAPI's only 400: a body it could not read or parse
        code = code or ("invalid-input" if error.status_code < 500 else "internal-error")
        return problem_response(
            error.status_code,
            code,
            str(error.detail),
            instance=request.url.path,
            field=field,
            headers=headers or None,
        )

    async def database_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, sql_errors.SQLAlchemyError)
        return database_response(error, request.method, request.url.path)

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
    for database_class in _DATABASE_ERRORS:
        app.add_exception_handler(database_class, database_error)
    app.add_exception_handler(Exception, unexpected_error)
    app.add_middleware(InputGuard)
    document_problems(app)


_BUSY_SQLSTATES: Final = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available (lock_timeout)
        "57014",  # query_canceled (statement_timeout)
    }
)


def is_database_busy(error: BaseException) -> bool:
    """Whether a database error means "busy, try again": SQLite locked or busy past its busy
    timeout, a PostgreSQL lock timeout, statement timeout, deadlock or serialization failure,
    or no pooled connection free in time. Other operational errors mean the database is away
    (down, unreachable, out of space)."""
    if isinstance(error, sql_errors.TimeoutError):
        return True
    original = getattr(error, "orig", None)
    if getattr(original, "sqlstate", None) in _BUSY_SQLSTATES:
        return True
    text = str(original if original is not None else error).lower()
    return "database is locked" in text or "database table is locked" in text


# --- parameters: UTF-8 without control characters ---------------------------------------------

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""Unicode control characters (C0, DEL, C1): never part of a register value or a filter."""


@dataclass(frozen=True, slots=True)
class _Operation:
    secured: bool
    """Needs a bearer token (the document lists a security requirement)."""
    takes_body: bool
    """Has a request body."""
    media_types: frozenset[str] = frozenset()
    """The body's media types the document declares."""


@dataclass(frozen=True, slots=True)
class _PathTemplate:
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    operations: dict[str, _Operation]

    @property
    def methods(self) -> frozenset[str]:
        return frozenset(self.operations)


def _path_templates(app: FastAPI) -> list[_PathTemplate]:
    """The paths of the OpenAPI document as patterns, with their parameters and methods
    (what a client is told exists). Cached per generated document."""
    document = app.openapi()
    cached = getattr(app.state, "problem_path_templates", None)
    if cached is not None and cached[0] is document:
        return list(cached[1])
    templates = []
    for path, item in document.get("paths", {}).items():
        names: list[str] = []
        regex = ""
        for part in re.split(r"({[^}/]+})", path):
            if part.startswith("{") and part.endswith("}"):
                regex += f"(?P<p{len(names)}>[^/]+)"
                names.append(part[1:-1])
            else:
                regex += re.escape(part)
        operations = {
            method.upper(): _Operation(
                secured=bool(operation.get("security")),
                takes_body="requestBody" in operation,
                media_types=frozenset(operation.get("requestBody", {}).get("content", {})),
            )
            for method, operation in item.items()
            if method in _HTTP_METHODS and isinstance(operation, dict)
        }
        templates.append(_PathTemplate(re.compile(regex), tuple(names), operations))
    app.state.problem_path_templates = (document, templates)
    return templates


_HTTP_METHODS: Final = frozenset({"get", "put", "post", "delete", "options", "head", "patch"})


def allowed_methods(app: FastAPI, path: str, named: str = "") -> str:
    """The ``Allow`` header of a path: every method its operations have (``HEAD`` with
    ``GET``), and any ``named`` by the route that answered."""
    methods = {method.strip().upper() for method in named.split(",") if method.strip()}
    for template in _path_templates(app):
        if template.pattern.fullmatch(path):
            methods |= template.methods
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def _operation(app: FastAPI, method: str, path: str) -> _Operation | None:
    """What the document says of the operation a request is for (None: not documented)."""
    for template in _path_templates(app):
        if template.pattern.fullmatch(path):
            found = template.operations.get(method)
            if found is not None:
                return found
    return None


def _path_parameter(app: FastAPI, path: str, position: int) -> str:
    """The name of the path parameter covering character ``position`` of ``path``, or
    ``path`` when no documented path has a parameter there."""
    for template in _path_templates(app):
        match = template.pattern.fullmatch(path)
        if match is None:
            continue
        for number, name in enumerate(template.names):
            start, end = match.span(f"p{number}")
            if start <= position < end:
                return name
    return "path"


def _refusal(text: str) -> str | None:
    """Why a decoded parameter is refused, or None."""
    found = _CONTROL.search(text)
    if found is None:
        return None
    return f"control characters (U+{ord(found.group()):04X}) are not allowed"


def check_parameters(app: FastAPI, scope: MutableMapping[str, Any]) -> tuple[str, str] | None:
    """(parameter, reason) of the first query or path parameter that is not UTF-8 or holds a
    control character, or None when every one is clean."""
    raw_path = scope.get("raw_path") or str(scope.get("path", "")).encode("utf-8")
    path = str(scope.get("path", ""))
    try:
        decoded = unquote_to_bytes(raw_path.decode("latin-1")).decode("utf-8")
    except UnicodeDecodeError as error:
        position = len(unquote_to_bytes(raw_path.decode("latin-1"))[: error.start].decode())
        return _path_parameter(app, path, position), "is not UTF-8"
    found = _CONTROL.search(decoded)
    if found is not None:
        return _path_parameter(app, decoded, found.start()), _refusal(decoded) or ""
    query: bytes = scope.get("query_string", b"")
    for part in query.split(b"&"):
        if not part:
            continue
        raw_name, _, raw_value = part.partition(b"=")
        name_bytes = unquote_to_bytes(raw_name.replace(b"+", b" ").decode("latin-1"))
        value_bytes = unquote_to_bytes(raw_value.replace(b"+", b" ").decode("latin-1"))
        try:
            name = name_bytes.decode("utf-8")
        except UnicodeDecodeError:
            return "query", "a parameter name is not UTF-8"
        if _CONTROL.search(name):
            return "query", f"parameter name {name!r:.60}: " + (_refusal(name) or "")
        try:
            value = value_bytes.decode("utf-8")
        except UnicodeDecodeError:
            return name, "is not UTF-8"
        refused = _refusal(value)
        if refused is not None:
            return name, refused
    return None


def _header_bytes(scope: MutableMapping[str, Any]) -> int:
    """Size of the request line and headers as they came on the wire (near enough)."""
    line = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + 32
    return line + sum(len(name) + len(value) + 4 for name, value in scope.get("headers", ()))


class InputGuard:
    """ASGI middleware checking, before any route, what needs no route to check, in order:

    1. the request line and headers within :data:`H11_MAX_HEADER_BYTES` (``431``);
    2. every query and path parameter UTF-8 without control characters (NUL above all:
       PostgreSQL text cannot hold it) — ``422`` naming the parameter, before any database;
    3. for a write (not GET, HEAD, OPTIONS) the OpenAPI document lists with a security
       requirement, the bearer token (``401``) — before anything reads the body (FastAPI
       reads and validates a body model before any dependency runs, so a route alone cannot
       put the token first);
    4. for an operation with a request body, its ``Content-Type``: JSON in UTF-8 (``415``),
       before anything parses it.

    The office a valid token acts for is left in the request's state for
    :func:`api.deps.get_office`, so the token is looked up once.
    """

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        application = scope.get("app")
        if scope["type"] != "http" or not isinstance(application, FastAPI):
            await self.app(scope, receive, send)
            return
        response = await self._refusal(application, scope)
        if response is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _refusal(self, app: FastAPI, scope: _Scope) -> JSONResponse | None:
        path = str(scope.get("path", ""))
        method = str(scope.get("method", "GET"))
        if _header_bytes(scope) > H11_MAX_HEADER_BYTES:
            # h11 refuses (431) only headers that arrive in several reads; the same limit
            # whichever way they came.
            return problem_response(
                431,
                "request-header-fields-too-large",
                f"the request line and headers are larger than {H11_MAX_HEADER_BYTES} bytes",
                instance=path,
                field="headers",
                headers={"Connection": "close"},
            )
        refused = check_parameters(app, scope)
        if refused is not None:
            field, reason = refused
            return problem_response(
                422, InvalidInputError.code, f"{field}: {reason}", instance=path, field=field
            )
        if method in ("GET", "HEAD", "OPTIONS"):
            return None  # no body to put the token before: the route's dependency checks it
        operation = _operation(app, method, path)
        if operation is None:
            return None
        request = Request(scope)
        try:
            if operation.secured:
                scope.setdefault("state", {})["office"] = await authenticate_request(request)
            if operation.takes_body:
                check_body_type(request.headers.get("Content-Type"), operation.media_types)
        except IpchainError as error:
            return error_response(error, method, path)
        except _DATABASE_ERRORS as error:
            return database_response(error, method, path)
        return None


# --- the OpenAPI document says what the API answers ------------------------------------------


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if headers:
        response["headers"] = headers
    return response


_RETRY_AFTER: Final = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    }
}
_WWW_AUTHENTICATE: Final = {
    "WWW-Authenticate": {"description": "``Bearer``.", "schema": {"type": "string"}}
}

_ADDED_RESPONSES: Final[dict[str, tuple[str, str, dict[str, Any] | None]]] = {
    # status: (when it applies, description, headers)
    "400": ("body", "The body is not JSON (or not readable).", None),
    "401": ("security", "No valid bearer token (checked before the body is read).", None),
    "404": ("path", "No such resource.", None),
    "413": ("body", f"The body is larger than {MAX_BODY_BYTES} bytes.", None),
    "415": ("body", "The body is not application/json (or +json) in UTF-8.", None),
    "422": (
        "always",
        "A parameter or the body is not valid (parameters: UTF-8 without control "
        "characters, within their documented bounds).",
        None,
    ),
    "503": ("always", "The node's database or chain is busy or away: retry later.", None),
}


def document_problems(app: FastAPI) -> None:
    """Make ``app.openapi()`` describe the errors the API answers: each as
    ``application/problem+json`` (the :class:`~api.schemas.Problem` schema), with the statuses
    every operation can return added — ``422`` (a parameter refused), ``503`` (database or
    chain busy, with ``Retry-After``), ``404`` with path parameters, ``401`` with a bearer
    token, and ``400``, ``413``, ``415`` with a body. ``405`` belongs to methods a path does
    not have, so no operation lists it; the server answers it with ``Allow``."""
    generate = app.openapi
    done: list[int] = []

    def openapi() -> dict[str, Any]:
        document = generate()
        if not done or done[0] != id(document):
            _add_problems(document)
            done[:] = [id(document)]
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _add_problems(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    if "Problem" not in schemas:
        from api.schemas import Problem

        schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method not in _HTTP_METHODS or not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            for status, response in list(responses.items()):
                if status.isdigit() and int(status) >= 400:
                    description = response.get("description") or HTTPStatus(int(status)).phrase
                    headers = response.get("headers")
                    responses[status] = _problem(description, headers)
            applies = {
                "always": True,
                "body": "requestBody" in operation,
                "security": bool(operation.get("security")),
                "path": any(p.get("in") == "path" for p in operation.get("parameters", ())),
            }
            for status, (when, description, headers) in _ADDED_RESPONSES.items():
                if applies[when] and status not in responses:
                    responses[status] = _problem(description, headers)
            if "401" in responses:
                responses["401"].setdefault("headers", {}).update(_WWW_AUTHENTICATE)
            if "503" in responses:
                responses["503"].setdefault("headers", {}).update(_RETRY_AFTER)
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in schemas and unused not in json.dumps(document.get("paths", {})):
            del schemas[unused]


# --- body size limit ------------------------------------------------------------------------

_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]


class _BodyTooLarge(Exception):
    pass


STREAMED_UPLOADS: Final = re.compile(r"/api/v1/offices/[^/]+/imports")
"""Paths whose bodies stream to disk under a limit of their own (register files)."""


class BodySizeLimit:
    """ASGI middleware refusing request bodies over ``max_bytes`` with a 413 problem: by the
    ``Content-Length`` header when there is one, else while the body streams in. Uploads of
    register files (:data:`STREAMED_UPLOADS`) are left to their route's own limit."""

    def __init__(self, app: Callable[..., Awaitable[None]], max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http" or STREAMED_UPLOADS.fullmatch(str(scope.get("path", ""))):
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


# --- the server's own errors ------------------------------------------------------------------


class _RecordingConnection(h11.Connection):
    """An h11 connection that keeps the protocol error it raised, so the answer can tell a
    malformed request (400) from headers over the buffer limit (431)."""

    last_error: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as error:
            self.last_error = error
            raise


class ProblemH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol (h11) answering what it refuses itself as problems.

    A request h11 cannot parse never reaches the application: uvicorn answers it with a
    plain-text ``400 Invalid HTTP request received.`` and closes the connection — a
    ``Content-Length`` that is not a number or disagrees with a second one, both
    ``Content-Length`` and ``Transfer-Encoding``, bytes past a declared ``Content-Length``
    that do not start a request, a malformed request line or header. A request line and
    headers over h11's buffer (16 KiB; uvicorn's ``--h11-max-incomplete-event-size``) are the
    same error with h11's hint ``431``. This protocol sends those answers as
    ``application/problem+json`` (``bad-request``, ``request-header-fields-too-large``),
    still closing the connection as HTTP requires after a framing error. ``ipchain serve``
    starts uvicorn with ``--http api.problems:ProblemH11Protocol``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = self.config.h11_max_incomplete_event_size
        self.conn = _RecordingConnection(
            h11.SERVER, H11_MAX_HEADER_BYTES if limit is None else limit
        )

    def send_400_response(self, msg: str) -> None:
        error = getattr(self.conn, "last_error", None)
        status = 431 if getattr(error, "error_status_hint", 400) == 431 else 400
        code = "request-header-fields-too-large" if status == 431 else "bad-request"
        detail = (
            "the request line and headers are larger than the server accepts"
            if status == 431
            else f"the HTTP request cannot be parsed: {error or msg}"
        )
        problem: dict[str, Any] = {
            "type": f"{PROBLEMS_PATH}/{code}",
            "title": PROBLEM_TYPES[code][1],
            "status": status,
            "detail": detail,
            "code": code,
        }
        if status == 431:
            problem["field"] = "headers"
        body = json.dumps(problem).encode()
        headers = [
            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        try:
            output = self.conn.send(
                h11.Response(status_code=status, headers=headers, reason=HTTPStatus(status).phrase)
            )
            self.transport.write(output or b"")
            self.transport.write(self.conn.send(h11.Data(data=body)) or b"")
            self.transport.write(self.conn.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError:
            pass  # a response was already under way: closing is all that is left
        self.transport.close()
