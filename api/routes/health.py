"""Health: is the node up, what stops it, how far behind is its index."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from api.deps import Service
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    summary="Node health",
    responses={503: {"model": Health, "description": "The node is unavailable (see reasons)."}},
)
async def health(service: Service, response: Response) -> Health:
    """The writer's state (anchoring, indexing), the chain head, the last block indexed, the
    events waiting in the outbox, and the chain events quarantined or flagged. HTTP 503 (with
    the same body) when the node is unavailable."""
    state = await run_in_threadpool(service.health)
    if state.status == "unavailable":
        response.status_code = 503
    lag = (
        None
        if state.chain_head is None or state.indexed_block is None
        else max(state.chain_head - state.indexed_block, 0)
    )
    return Health(
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
