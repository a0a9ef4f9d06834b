"""``GET /records/{key}/verify`` and ``/proof``, ``POST /verify``: verdicts computed against the
chain, a downloadable bundle, and problem+json (never "verified") for bad input."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers.indexed_node import HASH_ONLY, TRADEMARK, IndexedNode


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: these cases are about the edges, not the database."""
    return f"sqlite:///{tmp_path / 'index.db'}"


JSON = {"Content-Type": "application/json"}


def post(api: TestClient, body: bytes | dict[str, Any], **headers: str) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.post("/api/v1/verify", content=content, headers={**JSON, **headers})


def proof(api: TestClient, record_key: str = TRADEMARK) -> dict[str, Any]:
    answer = api.get(f"/api/v1/records/{record_key}/proof")
    assert answer.status_code == 200
    bundle: dict[str, Any] = answer.json()
    return bundle


def test_proof_is_a_downloadable_bundle_that_verifies(
    indexed: IndexedNode, api: TestClient
) -> None:
    answer = api.get("/api/v1/records/em/tm/018 000 001/proof")  # as an office prints it
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["content-disposition"] == (
        'attachment; filename="EM-TM-018000001.proof.json"'
    )
    bundle = answer.json()
    assert bundle["format"] == "ipchain-proof-bundle"
    assert [entry["event_code"] for entry in bundle["entries"]] == ["A10", "Q10", "F10", "M10"]

    result = post(api, answer.content).json()
    assert (result["kind"], result["ok"], result["verdict"]) == ("bundle", True, "verified")
    assert (result["bundle_seq"], result["head_seq"]) == (4, 4)
    assert [event["verdict"] for event in result["events"]] == ["verified"] * 4


def test_modified_bundle_fails_naming_the_event(indexed: IndexedNode, api: TestClient) -> None:
    bundle = proof(api)
    entry = bundle["entries"][1]
    entry["document"] = entry["document"].replace("2024-03-20", "2024-03-19")
    result = post(api, bundle).json()
    assert (result["ok"], result["verdict"]) == (False, "failed")
    assert [event["verdict"] for event in result["events"]][1] == "tampered"


def test_documents_are_found_where_anchored(indexed: IndexedNode, api: TestClient) -> None:
    document = json.loads(proof(api)["entries"][2]["document"])
    result = post(api, document).json()
    assert (result["kind"], result["ok"], result["verdict"]) == ("document", True, "verified")
    assert (result["record_key"], result["seq"], result["office"]) == (TRADEMARK, 3, "EM")

    document["event_date"] = "2024-06-02"
    result = post(api, document).json()
    assert (result["ok"], result["verdict"], result["seq"]) == (False, "unanchored", None)


def test_hash_only_record_verifies(indexed: IndexedNode, api: TestClient) -> None:
    result = api.get(f"/api/v1/records/{HASH_ONLY}/verify").json()
    assert result["ok"] is True
    assert result["events"][0]["verdict"] == "verified"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/records/EM/TM/099999999/verify", 404, "not-found"),
        ("/records/EM/TM/099999999/proof", 404, "not-found"),
        ("/records/XX/QQ/1/verify", 422, "invalid-record-key"),
        ("/records/EM/TM/01-8/proof", 404, "not-found"),
    ],
)
def test_unknown_or_malformed_records(
    indexed: IndexedNode, api: TestClient, path: str, status: int, code: str
) -> None:
    answer = api.get("/api/v1" + path)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code


def _bundle_without_seq(bundle: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    del changed["entries"][0]["seq"]
    return changed


def _bundle_of_another_chain(bundle: dict[str, Any]) -> dict[str, Any]:
    return {**bundle, "chain_id": 1}


BAD_BODIES = [
    pytest.param(b"", 400, "malformed-json", "body", id="empty"),
    pytest.param(b"{", 400, "malformed-json", "body", id="not JSON"),
    pytest.param(b'{"a": 1, "a": 2}', 400, "malformed-json", "body", id="duplicate keys"),
    pytest.param(b"[]", 422, "invalid-input", "body", id="array"),
    pytest.param(b'"verified"', 422, "invalid-input", "body", id="string"),
    pytest.param({"format": "zip"}, 422, "invalid-bundle", "format", id="other format"),
    pytest.param({"schema": "x"}, 422, "invalid-input", "record_key", id="no record key"),
    pytest.param({"record_key": "nonsense"}, 422, "invalid-record-key", "record_key", id="key"),
]


@pytest.mark.parametrize(("body", "status", "code", "field"), BAD_BODIES)
def test_bad_input_is_a_problem_never_a_verdict(
    indexed: IndexedNode, api: TestClient, body: Any, status: int, code: str, field: str
) -> None:
    answer = post(api, body)
    _assert_problem(answer, status, code, field)


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        (_bundle_without_seq, "invalid-bundle", "entries[0].seq"),
        (_bundle_of_another_chain, "invalid-input", "chain_id"),
    ],
)
def test_bad_bundles_are_problems(
    indexed: IndexedNode, api: TestClient, change: Any, code: str, field: str
) -> None:
    _assert_problem(post(api, change(proof(api))), 422, code, field)


def test_body_must_be_json(indexed: IndexedNode, api: TestClient) -> None:
    answer = api.post("/api/v1/verify", content=b"{}", headers={"Content-Type": "text/plain"})
    _assert_problem(answer, 415, "unsupported-media-type", "body")


def _assert_problem(answer: Any, status: int, code: str, field: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert (problem["code"], problem["field"]) == (code, field)
    assert "verdict" not in problem and "ok" not in problem
