"""The HTTP API of an ipchain node (FastAPI), WIPO ST.90 style.

Everything lives under ``/api/v1``: public reads (offices, records, a record's events, the
event feed, health), authenticated writes (an office submits register events; the bearer token
is bound to that one office) and the submission status resource. Errors are
``application/problem+json`` with stable codes (:mod:`api.problems`). The OpenAPI description
is at ``/api/v1/openapi.json`` and an interactive page at ``/api/v1/docs`` (Swagger UI served
by the node: it renders with no internet).

Routes are thin: they translate HTTP to calls of the node's services
(:class:`ipchain.node.service.NodeService`) and back, and never touch SQL.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Final
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

import ipchain
from api.deps import API_PREFIX
from api.problems import (
    MAX_BODY_BYTES,
    PROBLEM_TYPES,
    PROBLEMS_PATH,
    BodySizeLimit,
    install_problem_handlers,
)
from api.routes import (
    catalogue,
    demo,
    differences,
    docs,
    events,
    feed,
    governance,
    health,
    imports,
    links,
    network,
    offices,
    priority,
    records,
    submissions,
    verification,
    workshop,
)
from ipchain.config import Settings
from ipchain.encoding import prefer_pysha3_for_libraries
from ipchain.errors import NotFoundError
from ipchain.node.service import NodeService, ServiceOptions
from ipchain.node.supervisor import die_with_parent

DESCRIPTION = """\
A permissioned-blockchain register of trademark and industrial-design events (WIPO CWS Task 59).

* **Reads are public**: offices, records (filters, paging, sorting), a record's event history
  with its hash chain, and the feed of every office's events, as anchored on the shared chain
  and indexed by this node.
* **Writes are an office's**: `POST /offices/{office}/events` with a bearer token bound to that
  office. The answer is `202 Accepted` and a submission to poll until it is `anchored`. Send an
  `Idempotency-Key` header to make retries safe.
* **Errors** are `application/problem+json` (RFC 9457) with a stable `code` and the `field`
  concerned.
"""

DEMO_VARIABLE: Final = "IPCHAIN_DEMO"
"""``1`` in the environment of a node's API workers started by ``ipchain serve --demo``: the
demo-only routes (the workshop's tamper button) exist only then."""

LOOPBACK_ORIGIN: Final = r"^https?://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?$"
"""Pages served from this machine (the other nodes of a local network)."""


def allowed_origins() -> list[str]:
    """Origins whose pages may read this node's API from the browser besides loopback ones:
    the nodes the network file lists (the workshop page reads every node straight from it)."""
    listed = network.network_nodes()
    origins = set()
    for node in listed[0] if listed else []:
        parts = urlsplit(node.url)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    return sorted(origin for origin in origins if not re.match(LOOPBACK_ORIGIN, origin))


def enable_demo(app: FastAPI) -> None:
    """Add the demo-only routes (never on a production node)."""
    app.state.demo = True
    app.include_router(demo.router, prefix=API_PREFIX)


def create_app(service: NodeService, *, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The API over a started :class:`NodeService`."""
    app = FastAPI(
        title="ipchain register API",
        version=getattr(ipchain, "__version__", "0"),
        description=DESCRIPTION,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served offline by api.routes.docs
        redoc_url=None,
    )
    app.state.service = service
    app.state.demo = False
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    # The workshop page of one node reads the others' public API and may submit to the one
    # a presenter picks (with a pasted token): loopback pages and the network's nodes only.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=allowed_origins(),
        allow_origin_regex=LOOPBACK_ORIGIN,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        expose_headers=["Location"],
    )
    for module in (offices, records, events, submissions, imports, health):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(verification.router, prefix=API_PREFIX)
    app.include_router(governance.router, prefix=API_PREFIX)
    for module in (links, priority, differences, catalogue, network, feed):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(docs.router)
    app.include_router(workshop.router)

    @app.get(PROBLEMS_PATH, tags=["problems"], summary="Problem types")
    def problem_types() -> JSONResponse:
        """Every problem ``code`` the API returns, with its HTTP status and title."""
        return JSONResponse(
            {
                "items": [
                    {
                        "code": code,
                        "status": status,
                        "title": title,
                        "type": f"{PROBLEMS_PATH}/{code}",
                    }
                    for code, (status, title) in PROBLEM_TYPES.items()
                ]
            }
        )

    @app.get(f"{PROBLEMS_PATH}/{{code}}", tags=["problems"], summary="One problem type")
    def problem_type(code: str) -> JSONResponse:
        """What a problem ``type`` URI means."""
        if code not in PROBLEM_TYPES:
            raise NotFoundError(f"no problem type {code}")
        status, title = PROBLEM_TYPES[code]
        return JSONResponse(
            {"code": code, "status": status, "title": title, "type": f"{PROBLEMS_PATH}/{code}"}
        )

    return app


def app_from_environment() -> FastAPI:
    """The API of the node the ``IPCHAIN_*`` settings name, for uvicorn's worker processes
    (``--factory``): it reads the index and writes only the outbox; the node's writer process
    anchors and indexes, and holds the signer keys. A worker ends when its master does (a
    master killed by ``kill -9`` would leave it serving the port, unsupervised)."""
    if sys.platform == "linux":
        die_with_parent()
        if os.getppid() == 1:  # the master died before the signal was asked for
            raise SystemExit(0)
    prefer_pysha3_for_libraries()
    options = ServiceOptions(run_submitter=False, run_indexer=False)
    service = NodeService(Settings(), options).start()
    app = create_app(service)
    if os.environ.get(DEMO_VARIABLE) == "1":
        enable_demo(app)
    app.router.on_shutdown.append(service.stop)
    return app
