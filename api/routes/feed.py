"""The live feed, pushed: server-sent events from the moment this node indexes an event.

How a worker learns of a new event: the indexer runs in the node's writer process and the API
in uvicorn worker processes, so a worker learns of newly indexed events from the index itself.
Each worker runs **one** watcher task, only while at least one page listens, that reads the
position of the newest indexed event and the indexed block every :data:`WATCH_INTERVAL`
seconds — two one-row reads of a primary key and a unique index, however many pages listen —
and pushes what is new to every listener at once. A notification from the writer would save
those reads, but the node's default database (SQLite) has none across processes and the
writer is not the API's to change; forty tiny reads a second (two every 50 ms) cost well under
a millisecond each and put an event on every page within about 50 ms of its indexing. The page
itself never polls: it holds one ``EventSource`` per node.

Messages: ``status`` (the node's chain head and indexed block: on connecting, whenever the
indexed block moves, and every :data:`HEARTBEAT` seconds, so a node whose index lags shows it)
and ``events`` (a JSON list of new events, oldest first, each with the record's mark and
holder; on connecting, the newest :data:`BACKLOG` events, flagged ``backlog``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any, Final

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from api.schemas_workshop import FeedEvent, NodeStatus
from ipchain.node.service import NodeService
from ipchain.register.queries import EventView

router = APIRouter(tags=["events"])

WATCH_INTERVAL: Final = 0.05
"""Seconds between the watcher's reads of the index."""

HEARTBEAT: Final = 2.0
"""Seconds between status messages when nothing is indexed."""

BACKLOG: Final = 25
"""Events sent to a page when it connects."""

_BATCH: Final = 50
_QUEUE: Final = 64

Message = tuple[str, str]


class FeedHub:
    """One worker's watcher of the index and its listeners."""

    def __init__(self, service: NodeService) -> None:
        self.service = service
        self._listeners: set[asyncio.Queue[Message]] = set()
        self._task: asyncio.Task[None] | None = None

    def listen(self) -> asyncio.Queue[Message]:
        """A queue of the messages to come; the watcher runs while there is one."""
        queue: asyncio.Queue[Message] = asyncio.Queue(_QUEUE)
        self._listeners.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._watch())
        return queue

    def leave(self, queue: asyncio.Queue[Message]) -> None:
        """Stop sending to ``queue``."""
        self._listeners.discard(queue)

    def _publish(self, message: Message) -> None:
        for queue in list(self._listeners):
            if queue.full():  # a page that does not read: drop its oldest message
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(message)

    async def _watch(self) -> None:
        queries = self.service.queries
        position = await run_in_threadpool(queries.feed_position)
        indexed = await run_in_threadpool(queries.indexed_block)
        said = time.monotonic()
        while self._listeners:
            await asyncio.sleep(WATCH_INTERVAL)
            try:
                now_position = await run_in_threadpool(queries.feed_position)
                now_indexed = await run_in_threadpool(queries.indexed_block)
                if now_position > position:
                    fresh = await run_in_threadpool(self.events_after, position)
                    if fresh:
                        self._publish(("events", fresh))
                position = now_position
                if now_indexed != indexed or time.monotonic() - said >= HEARTBEAT:
                    indexed, said = now_indexed, time.monotonic()
                    self._publish(("status", await run_in_threadpool(self.status)))
            except Exception:  # the database or the chain away for a moment: keep watching
                await asyncio.sleep(1.0)

    def status(self) -> str:
        """The ``status`` message's data."""
        service = self.service
        head = service.chain_head()
        indexed = service.queries.indexed_block()
        return NodeStatus(
            chain_id=service.node.backend.chain_id,
            chain_head=head,
            indexed_block=indexed,
            index_lag_blocks=max(head - indexed, 0),
            signing_offices=sorted(service.submissions.offices),
        ).model_dump_json()

    def events_after(self, position: tuple[int, int]) -> str:
        """The ``events`` message's data: events indexed after ``position`` (at most a batch,
        the newest), oldest first."""
        views, _ = self.service.queries.events_feed(limit=_BATCH)
        fresh = [view for view in views if (view.block_number, view.log_index) > position]
        return self._message(list(reversed(fresh)), backlog=False) if fresh else ""

    def backlog(self) -> str:
        """The newest events, for a page that just connected."""
        views, _ = self.service.queries.events_feed(limit=BACKLOG)
        return self._message(list(reversed(views)), backlog=True)

    def _message(self, views: list[EventView], *, backlog: bool) -> str:
        summaries = self.service.queries.record_summaries([view.record_key for view in views])
        items: list[dict[str, Any]] = [
            {
                **FeedEvent.of(view, summaries.get(view.record_key)).model_dump(mode="json"),
                "backlog": backlog,
            }
            for view in views
        ]
        return json.dumps(items, ensure_ascii=False)


def _hub(request: Request) -> FeedHub:
    hub: FeedHub | None = getattr(request.app.state, "feed_hub", None)
    if hub is None:
        hub = request.app.state.feed_hub = FeedHub(request.app.state.service)
    return hub


@router.get(
    "/feed",
    summary="Live feed (server-sent events)",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "``status`` and ``events`` messages, pushed as this node indexes.",
        }
    },
)
async def feed(request: Request) -> EventSourceResponse:
    """Server-sent events: ``status`` (chain head, indexed block, lag) and ``events`` (a JSON
    list of newly indexed register events with the record's mark and holder), pushed within a
    fraction of a second of this node indexing them. On connecting: the status and the newest
    events. For a browser, ``new EventSource("/api/v1/feed")``."""
    hub = _hub(request)
    queue = hub.listen()

    async def messages() -> AsyncIterator[dict[str, str]]:
        try:
            yield {"event": "status", "data": await run_in_threadpool(hub.status)}
            yield {"event": "events", "data": await run_in_threadpool(hub.backlog)}
            while True:
                name, data = await queue.get()
                yield {"event": name, "data": data}
        finally:
            hub.leave(queue)

    return EventSourceResponse(messages(), ping=15)
