"""The writer's published state, as the API processes read it: running, stopped with why,
silent (stale), stopped on purpose; a file allocated once and rewritten in place."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ipchain.node.service import (
    STALE_SECONDS,
    StatePublisher,
    WriterState,
    _published_state,
    read_writer_state,
)


def test_a_failure_is_published_and_cleared(tmp_path: Path) -> None:
    path = tmp_path / "run" / "writer-state.json"
    state = WriterState()
    publisher = StatePublisher(state, path)
    try:
        size = path.stat().st_size
        published = read_writer_state(path)
        assert published is not None
        assert _published_state(published, "anchoring") == ("running", None)

        state.failed("anchoring", OSError(28, "No space left on device"))
        publisher.publish()
        published = read_writer_state(path)
        assert published is not None
        status, why = _published_state(published, "anchoring")
        assert status == "stopped"
        assert why is not None and why.startswith("OSError: [Errno 28] No space left on device")
        assert _published_state(published, "indexing") == ("running", None)
        assert path.stat().st_size == size  # rewritten in place, never grown

        state.succeeded("anchoring")
        publisher.publish()
        published = read_writer_state(path)
        assert published is not None
        assert _published_state(published, "anchoring") == ("running", None)

        stale = dict(published, updated=time.time() - STALE_SECONDS - 5)
        status, why = _published_state(stale, "indexing")
        assert status == "stopped" and why is not None and "has not reported" in why
    finally:
        publisher.close()
    published = read_writer_state(path)
    assert published is not None
    assert _published_state(published, "anchoring") == (
        "stopped",
        "the writer process is not running",
    )


def test_no_file_or_a_torn_one_reads_as_no_state(tmp_path: Path) -> None:
    path = tmp_path / "writer-state.json"
    assert read_writer_state(path) is None
    path.write_bytes(b'{"format": "ipchain-wri')
    assert read_writer_state(path) is None
    path.write_bytes(json.dumps({"updated": time.time(), "stopped": False}).encode())
    assert read_writer_state(path) is not None
