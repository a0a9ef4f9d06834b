"""``ipchain serve --demo``: demo data on first start only, one API token per demo office."""

from __future__ import annotations

import json
import stat

from sqlalchemy import func, select

from api.server import demo_tokens_file, ensure_demo_tokens
from ipchain.db.submissions import submissions
from ipchain.node.service import load_demo_data
from tests.helpers.nodes import RunningNode


def submission_count(node: RunningNode) -> int:
    with node.service.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(submissions)) or 0)


def test_demo_data_loads_once(node: RunningNode) -> None:
    loaded = load_demo_data(node.service, records_per_office=5)
    stats = node.client.get("/api/v1/offices").json()["items"]
    assert {office["code"]: office["counts"]["records"] for office in stats} == {
        "EM": 5,
        "AU": 5,
        "RU": 5,
    }
    assert loaded == sum(office["counts"]["events"] for office in stats)
    kinds = {item["ip_type"] for item in node.client.get("/api/v1/records").json()["items"]}
    assert kinds == {"TM", "DS"}
    before = submission_count(node)
    assert load_demo_data(node.service, records_per_office=5) == 0
    assert submission_count(node) == before


def test_demo_data_leaves_a_node_with_data_alone(node: RunningNode) -> None:
    from tests.helpers.documents import event_document

    response = node.client.post(
        "/api/v1/offices/EM/events",
        json=event_document("EM/TM/018900001"),
        headers=node.token("EM"),
    )
    node.service.wait_for_submission("EM", response.json()["id"])
    assert load_demo_data(node.service, records_per_office=5) == 0
    assert node.client.get("/api/v1/records").json()["total"] == 1


def test_demo_tokens(node: RunningNode) -> None:
    tokens, new = ensure_demo_tokens(node.service)
    assert new and sorted(tokens) == ["AU", "EM", "RU"]
    path = demo_tokens_file(node.settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text("utf-8")) == tokens
    for office, token in tokens.items():
        assert node.service.authenticate(token) == office
    again, new_again = ensure_demo_tokens(node.service)
    assert (again, new_again) == (tokens, False)
