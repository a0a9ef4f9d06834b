"""Health: is the node up, what stops it, how far behind is its index."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.deps import Service
from api.problems import problem_response
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    summary="Node health",
    responses={
        503: {
            "description": "The node is unavailable: a node-unavailable problem whose detail "
            "gives the reasons and whose health member is the body a 200 has."
        }
    },
)
async def health(service: Service, request: Request) -> Health | JSONResponse:
    """The writer's state (anchoring, indexing), the chain head, the last block indexed, the
    events waiting in the outbox, and the chain events quarantined or flagged. When the node is
    unavailable: ``503 node-unavailable`` (with ``Retry-After``), the same members under
    ``health``."""
    state = await run_in_threadpool(service.health)
    lag = (
        None
        if state.chain_head is None or state.indexed_block is None
        else max(state.chain_head - state.indexed_block, 0)
    )
    body = Health(
        status=state.status,
        reasons=list(state.reasons),
        anchoring=state.anchoring,
        indexing=state.indexing,
        chain_id=state.chain_id,
        chain_head=state.chain_head,
        indexed_block=state.indexed_block,
        index_lag_blocks=lag,
        outbox_backlog=state.outbox_backlog,
        quarantined_events=state.quarantined_events,
        flagged_events=state.flagged_events,
        signing_offices=list(state.signing_offices),
    )
    if state.status != "unavailable":
        return body
    return problem_response(
        503,
        "node-unavailable",
        "; ".join(state.reasons),
        instance=request.url.path,
        extensions={"health": body.model_dump(mode="json")},
    )
