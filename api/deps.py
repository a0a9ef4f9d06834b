"""Typed FastAPI dependencies: the node's services and the authenticated office, and the
parameter types and route class that keep every public input bounded.

- :data:`Limit` and :data:`Offset` bound paging (``offset`` ≤ :data:`MAX_OFFSET`), and
  :data:`IsoDate` takes a date only as ISO 8601 ``YYYY-MM-DD`` (never a bare number).
- :func:`authenticate_request` and :func:`check_body_type` are what
  :class:`api.problems.InputGuard` runs for every documented write before its body is read:
  the bearer token (``401``), then the body's media type and charset (``415``).
"""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Final

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BeforeValidator
from starlette.concurrency import run_in_threadpool

from ipchain.errors import AuthenticationError, UnsupportedMediaTypeError
from ipchain.node.service import NodeService
from ipchain.register.queries import MAX_LIMIT, MAX_OFFSET

API_PREFIX = "/api/v1"

_bearer = HTTPBearer(
    auto_error=False,
    description="An API token of one office (`ipchain token create --office XX`).",
)


def get_service(request: Request) -> NodeService:
    """The node the app serves."""
    service: NodeService = request.app.state.service
    return service


Service = Annotated[NodeService, Depends(get_service)]
"""The node's services."""


def _unauthenticated(message: str) -> AuthenticationError:
    error = AuthenticationError(message)
    error.field = "Authorization"  # type: ignore[attr-defined]
    return error


async def authenticate_request(request: Request) -> str:
    """The office of the request's bearer token; :class:`AuthenticationError` (401) without
    a valid one. Reads only the ``Authorization`` header, never the body."""
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    if scheme.lower() != "bearer" or not token:
        raise _unauthenticated("a bearer token is required (Authorization: Bearer <token>)")
    try:
        return await run_in_threadpool(get_service(request).authenticate, token)
    except AuthenticationError as error:
        error.field = "Authorization"  # type: ignore[attr-defined]
        raise


async def get_office(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The office the request's bearer token acts for; 401 without a valid one (looked up
    once: :class:`api.problems.InputGuard` has done it for a documented operation)."""
    office = getattr(request.state, "office", None)
    if isinstance(office, str):
        return office
    if credentials is None:
        raise _unauthenticated("a bearer token is required (Authorization: Bearer <token>)")
    return await authenticate_request(request)


AuthenticatedOffice = Annotated[str, Depends(get_office)]
"""ST.3 code of the office the caller's token is bound to."""


def base_url(request: Request) -> str:
    """Path prefix of the API for links (``/api/v1``), relative to the server root."""
    return str(request.scope.get("root_path", "")) + API_PREFIX


BaseUrl = Annotated[str, Depends(base_url)]
"""Prefix for links in responses."""


# --- bounded parameters ----------------------------------------------------------------------

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}.")]
"""``limit`` of a paged list."""

Offset = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description=f"Items to skip, 0 to {MAX_OFFSET}.")
]
"""``offset`` of a paged list, capped at :data:`MAX_OFFSET`."""

RecordOffice = Annotated[
    str, Path(pattern=r"^[A-Za-z]{2}$", description="ST.3 office code (EM, or em).")
]
"""The office part of a record's path."""

RecordType = Annotated[str, Path(max_length=8, description="TM (trademark) or DS (design).")]
"""The IP type part of a record's path."""

RecordNumber = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="Application number, as the office prints it (018 123 456) or normalised.",
    ),
]
"""The application number part of a record's path."""

_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date(value: object) -> object:
    """Only ``YYYY-MM-DD`` goes on to be checked as a calendar date: pydantic alone would
    read a bare number as Unix seconds."""
    if isinstance(value, datetime.date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise ValueError("must be a date written YYYY-MM-DD (ISO 8601)")


IsoDate = Annotated[datetime.date, BeforeValidator(_iso_date)]
"""A date parameter: ISO 8601 ``YYYY-MM-DD`` only."""


# --- writes: the body's type before parsing --------------------------------------------------

_UTF8: Final = frozenset({"utf-8", "utf8"})


def check_body_type(content_type: str | None, declared: frozenset[str]) -> None:
    """Refuse (415) a body of a type the operation does not declare: JSON operations take
    JSON in UTF-8 (:func:`check_json_body`), others one of their declared media types."""
    if not declared or any(_is_json(media_type) for media_type in declared):
        check_json_body(content_type)
        return
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type not in declared:
        raise UnsupportedMediaTypeError(
            f"the body must be one of {', '.join(sorted(declared))}, not {media_type or 'untyped'}",
            field="Content-Type",
        )


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def check_json_body(content_type: str | None) -> None:
    """Refuse (415) a body not declared ``application/json`` (or ``+json``), or declared in
    a charset other than UTF-8: JSON is UTF-8 (RFC 8259 §8.1), and a body is never decoded
    from another charset, so ``charset=latin-1`` on UTF-8 bytes is refused, not guessed."""
    media_type, _, parameters = (content_type or "").partition(";")
    media_type = media_type.strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaTypeError(
            f"the body must be application/json, not {media_type or 'untyped'}", field="body"
        )
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in _UTF8:
            raise UnsupportedMediaTypeError(
                f"charset {charset or '(empty)'}: a JSON body must be UTF-8 (send "
                "charset=utf-8 or no charset)",
                field="Content-Type",
            )
