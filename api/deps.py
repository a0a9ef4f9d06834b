"""Typed FastAPI dependencies: the node's services and the authenticated office."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from ipchain.errors import AuthenticationError
from ipchain.node.service import NodeService

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


async def get_office(
    service: Service,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The office the request's bearer token acts for; 401 without a valid one."""
    if credentials is None:
        error = AuthenticationError("a bearer token is required (Authorization: Bearer <token>)")
        error.field = "Authorization"  # type: ignore[attr-defined]
        raise error
    try:
        return await run_in_threadpool(service.authenticate, credentials.credentials)
    except AuthenticationError as error:
        error.field = "Authorization"  # type: ignore[attr-defined]
        raise


AuthenticatedOffice = Annotated[str, Depends(get_office)]
"""ST.3 code of the office the caller's token is bound to."""


def base_url(request: Request) -> str:
    """Path prefix of the API for links (``/api/v1``), relative to the server root."""
    return str(request.scope.get("root_path", "")) + API_PREFIX


BaseUrl = Annotated[str, Depends(base_url)]
"""Prefix for links in responses."""
