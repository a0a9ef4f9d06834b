"""Import jobs over the API (issue 10): a register file streamed to the node beyond the
submit endpoint's 5 MiB, imported by the node's writer, polled as a job; uploading it again
anchors nothing twice; a refused record fails the job naming its line; the upload's token,
office and media type are checked before its body is read."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from api.problems import MAX_BODY_BYTES
from ipchain.db.register import events
from tests.api.test_bounds import assert_problem
from tests.helpers.documents import event_document
from tests.helpers.nodes import RunningNode

SAMPLES = Path(__file__).parent
UPLOAD = "/api/v1/offices/EM/imports"


def wait_job(node: RunningNode, job: dict[str, Any], token: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while True:
        state = node.client.get(job["links"]["self"], headers=token).json()
        if state["status"] in ("completed", "failed"):
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.2)


def indexed_events(node: RunningNode) -> int:
    with node.service.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(events)) or 0)


def test_an_st96_upload_is_imported_once(node: RunningNode) -> None:
    token = node.token("EM")
    body = (SAMPLES / "trademarks.xml").read_bytes()
    accepted = node.client.post(
        UPLOAD, content=body, headers=token | {"Content-Type": "application/xml"}
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["Location"].endswith(accepted.json()["id"])
    done = wait_job(node, accepted.json(), token)
    assert done["status"] == "completed", done
    assert (done["records"], done["events"], done["file_bytes"]) == (2, 5, len(body))
    node.service.wait_until_idle(timeout=120)
    before = indexed_events(node)
    assert node.client.get("/api/v1/records/EM/TM/018900002").json()["status"] == "opposed"

    again = node.client.post(
        UPLOAD, content=body, headers=token | {"Content-Type": "application/xml"}
    )
    done = wait_job(node, again.json(), token)
    assert done["status"] == "completed" and done["replayed"] == done["batches"] == 1
    node.service.wait_until_idle(timeout=120)
    assert indexed_events(node) == before
    # Another office's token sees no such job.
    other = node.client.get(again.json()["links"]["self"], headers=node.token("AU"))
    assert other.status_code == 404


def test_a_file_beyond_the_submit_limit_streams_in(node: RunningNode) -> None:
    token = node.token("EM")
    lines = []
    for n in range(3_000):
        document = event_document(f"EM/TM/0187{n:05d}")
        document["record_data"]["nice_classes"][0]["descriptions"][0]["text"] = "x" * 1_900
        lines.append(json.dumps(document))
    body = ("\n".join(lines) + "\n").encode()
    assert len(body) > MAX_BODY_BYTES
    accepted = node.client.post(
        UPLOAD, content=body, headers=token | {"Content-Type": "application/x-ndjson"}
    )
    assert accepted.status_code == 202, accepted.text
    done = wait_job(node, accepted.json(), token)
    assert done["status"] == "completed", done
    assert done["events"] == 3_000 and done["batches"] == 3


def test_a_refused_record_fails_the_job_naming_its_line(node: RunningNode) -> None:
    token = node.token("EM")
    lines = [event_document("EM/TM/018800001"), event_document("EM/TM/018800001", "M10")]
    body = ("\n".join(json.dumps(line) for line in lines) + "\n").encode()
    accepted = node.client.post(
        UPLOAD, content=body, headers=token | {"Content-Type": "application/x-ndjson"}
    )
    done = wait_job(node, accepted.json(), token)
    assert done["status"] == "failed"
    assert "line 2 (EM/TM/018800001), events[1]" in done["error"], done


def test_uploads_are_checked_before_their_body(node: RunningNode) -> None:
    body = (SAMPLES / "trademarks.xml").read_bytes()
    xml = {"Content-Type": "application/xml"}
    assert_problem(node.client.post(UPLOAD, content=body, headers=xml), 401, "Authorization")
    refused = node.client.post(
        UPLOAD, content=body, headers=node.token("EM") | {"Content-Type": "text/plain"}
    )
    assert_problem(refused, 415, "Content-Type")
    foreign = node.client.post(UPLOAD, content=body, headers=node.token("AU") | xml)
    assert foreign.status_code == 403, foreign.text
    empty = node.client.post(UPLOAD, content=b"", headers=node.token("EM") | xml)
    assert_problem(empty, 422, "body")
    assert not list((node.settings.data_dir / "imports").glob("*.upload"))
