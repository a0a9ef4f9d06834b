"""Health: is the node up, how far behind is its index."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Service
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Node health")
def health(service: Service) -> Health:
    """The chain head, the last block indexed, and the events waiting in the outbox."""
    head = service.chain_head()
    indexed = service.queries.indexed_block()
    return Health(
        status="ok",
        chain_id=service.node.backend.chain_id,
        chain_head=head,
        indexed_block=indexed,
        index_lag_blocks=max(head - indexed, 0),
        outbox_backlog=service.outbox_backlog(),
        signing_offices=sorted(service.submissions.offices),
    )
