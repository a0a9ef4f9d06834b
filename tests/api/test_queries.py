"""Reading the register through the API: filters, paging, sorting, the feed, OpenAPI."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

import pytest

from ipchain.node.service import load_demo_data
from tests.helpers.nodes import RunningNode

RECORDS = "/api/v1/records"


@pytest.fixture
def demo(node: RunningNode) -> RunningNode:
    """A node with a small demo register of three offices."""
    assert load_demo_data(node.service, records_per_office=8) > 0
    return node


def all_records(node: RunningNode) -> list[dict[str, Any]]:
    page = node.client.get(f"{RECORDS}?limit=500").json()
    assert page["total"] == len(page["items"])
    items: list[dict[str, Any]] = page["items"]
    return items


def keys(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == len(page["items"])
    return {item["record_key"] for item in page["items"]}


def day(text: str | None) -> datetime.date | None:
    return None if text is None else datetime.date.fromisoformat(text)


def test_filters(demo: RunningNode) -> None:
    records = all_records(demo)
    # Eight a office, and the two priority claims the demo anchors past the API to show how
    # verification reports them (ipchain.node.service._BAD_CLAIMS).
    assert len(records) == 3 * 8 + 2
    assert {record["office"] for record in records} == {"EM", "AU", "RU"}

    def expect(query: str, keep: Any) -> None:
        wanted = {record["record_key"] for record in records if keep(record)}
        assert wanted, f"{query} selects nothing in the demo data: a useless check"
        assert keys(demo.client.get(f"{RECORDS}?limit=500&{query}")) == wanted, query

    expect("office=AU", lambda r: r["office"] == "AU")
    expect("type=DS", lambda r: r["ip_type"] == "DS")
    expect("office=EM&type=TM", lambda r: r["office"] == "EM" and r["ip_type"] == "TM")
    status = records[0]["status"]
    expect(f"status={status}", lambda r: r["status"] == status)
    nice = next(r["nice_classes"][0] for r in records if r["nice_classes"])
    expect(f"nice_class={nice}", lambda r: nice in r["nice_classes"])
    locarno = next(r["locarno_classes"][0] for r in records if r["locarno_classes"])
    expect(f"locarno_class={locarno}", lambda r: locarno in r["locarno_classes"])
    mark = next(r["mark_text"] for r in records if r["ip_type"] == "TM" and r["mark_text"])
    word = mark.split()[0]
    expect(
        f"text={word.lower()}",
        lambda r: r["mark_text"] is not None and word.lower() in r["mark_text"].lower(),
    )
    filed = sorted(r["filing_date"] for r in records if r["filing_date"])
    middle = filed[len(filed) // 2]
    expect(f"filed_from={middle}", lambda r: r["filing_date"] and r["filing_date"] >= middle)
    expect(f"filed_to={middle}", lambda r: r["filing_date"] and r["filing_date"] <= middle)
    registered = sorted(r["registration_date"] for r in records if r["registration_date"])
    low, high = registered[0], registered[len(registered) // 2]
    expect(
        f"registered_from={low}&registered_to={high}",
        lambda r: r["registration_date"] and low <= r["registration_date"] <= high,
    )
    assert keys(demo.client.get(f"{RECORDS}?office=MT")) == set()


def test_paging_and_sorting(demo: RunningNode) -> None:
    records = all_records(demo)
    seen: list[str] = []
    location: str | None = f"{RECORDS}?limit=5&sort=filing_date&order=desc"
    while location is not None:
        page = demo.client.get(location).json()
        assert page["total"] == len(records)
        assert len(page["items"]) <= 5
        seen += [item["record_key"] for item in page["items"]]
        location = page["links"]["next"]
    assert len(seen) == len(set(seen)) == len(records)
    by_key = {record["record_key"]: record for record in records}
    dates = [by_key[key]["filing_date"] for key in seen]
    dated = [d for d in dates if d is not None]
    assert dated == sorted(dated, reverse=True)
    assert dates[: len(dated)] == dated  # undated records last

    second = demo.client.get(f"{RECORDS}?limit=5&offset=5").json()
    assert second["links"]["prev"].endswith("offset=0")
    assert [item["record_key"] for item in second["items"]] == sorted(by_key)[5:10]
    beyond = demo.client.get(f"{RECORDS}?offset=1000").json()
    assert beyond["items"] == [] and beyond["total"] == len(records)


def test_field_selection(demo: RunningNode) -> None:
    page = demo.client.get(f"{RECORDS}?limit=3&fields=record_key,status").json()
    assert [set(item) for item in page["items"]] == [{"record_key", "status"}] * 3


def test_record_and_history(demo: RunningNode) -> None:
    record = max(all_records(demo), key=lambda r: r["event_count"])
    office, ip_type, number = record["record_key"].split("/")
    one = demo.client.get(f"/api/v1/records/{office}/{ip_type}/{number}").json()
    # The record's page adds its flagged events and quarantined logs (none here).
    assert one == record | {"flags": [], "quarantined": []}
    # The number as an office prints it, in any case, finds the same record.
    spaced = demo.client.get(
        f"/api/v1/records/{office.lower()}/{ip_type}/{number[:3]}-{number[3:]}"
    )
    assert spaced.json()["record_key"] == record["record_key"]
    history = demo.client.get(f"{one['links']['events']}").json()["items"]
    assert len(history) == record["event_count"] > 1
    assert [event["seq"] for event in history] == list(range(1, len(history) + 1))
    assert history[0]["prev_entry_hash"] == "0x" + "00" * 32
    for previous, event in itertools.pairwise(history):
        assert event["prev_entry_hash"] == previous["entry_hash"]
        assert (event["block_number"], event["log_index"]) > (
            previous["block_number"],
            previous["log_index"],
        )
    assert history[-1]["entry_hash"] == record["head_entry_hash"]


def test_event_feed_newest_first_by_cursor(demo: RunningNode) -> None:
    total = sum(r["event_count"] for r in all_records(demo))
    positions: list[tuple[int, int]] = []
    location: str | None = "/api/v1/events?limit=40"
    while location is not None:
        page = demo.client.get(location).json()
        positions += [(event["block_number"], event["log_index"]) for event in page["items"]]
        location = page["links"]["next"]
    assert len(positions) == len(set(positions)) == total
    assert positions == sorted(positions, reverse=True)
    au = demo.client.get("/api/v1/events?office=AU&limit=500").json()["items"]
    assert au and {event["office"] for event in au} == {"AU"}


def test_offices(demo: RunningNode) -> None:
    offices = demo.client.get("/api/v1/offices").json()["items"]
    assert [office["code"] for office in offices] == ["EM", "AU", "RU"]
    counts = {office["code"]: office["counts"] for office in offices}
    records = all_records(demo)
    for code, office_counts in counts.items():
        mine = [r for r in records if r["office"] == code]
        assert office_counts["records"] == len(mine)
        assert office_counts["events"] == sum(r["event_count"] for r in mine)
    em = demo.client.get("/api/v1/offices/EM").json()
    assert em["status"] == "active" and len(em["signers"]) == 1
    assert demo.client.get("/api/v1/offices/ZZ").status_code == 404


def test_health(demo: RunningNode) -> None:
    health = demo.client.get("/api/v1/health").json()
    assert health["status"] == "ok"
    assert health["outbox_backlog"] == 0
    assert health["indexed_block"] == health["chain_head"]
    assert health["signing_offices"] == ["AU", "EM", "RU"]


def test_openapi_is_published(node: RunningNode) -> None:
    spec = node.client.get("/api/v1/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/v1/offices",
        "/api/v1/offices/{office}",
        "/api/v1/offices/{office}/events",
        "/api/v1/records",
        "/api/v1/records/{office}/{ip_type}/{number}",
        "/api/v1/records/{office}/{ip_type}/{number}/events",
        "/api/v1/events",
        "/api/v1/submissions/{submission_id}",
        "/api/v1/health",
    ):
        assert path in paths, path
    submit = paths["/api/v1/offices/{office}/events"]["post"]
    assert "202" in submit["responses"] and "422" in submit["responses"]
    assert "application/problem+json" in submit["responses"]["422"]["content"]
    assert "requestBody" in submit
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    docs = node.client.get("/api/v1/docs")
    assert docs.status_code == 200 and "/api/v1/openapi.json" in docs.text
    problems = node.client.get("/api/v1/problems").json()["items"]
    assert {"invalid-state-transition", "foreign-record", "payload-too-large"} <= {
        problem["code"] for problem in problems
    }
