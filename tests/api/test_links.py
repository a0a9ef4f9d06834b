"""Priority claims checked across offices at submission (issue 12): a valid claim on another
office's first filing is accepted and shown on both records; each failing check is a 422
naming the link and the reason, with nothing accepted; a link to a record no member office
keeps is accepted as unverifiable. Also the Paris Convention period itself."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from ipchain.keys import OfficeKey
from ipchain.register.links import office_closed, priority_period_end
from ipchain.register.models import RegisterEvent
from tests.api.test_bounds import assert_problem, written
from tests.helpers.documents import event_document, to_anchor
from tests.helpers.nodes import RunningNode

D = datetime.date
FIRST = "EM/TM/018700001"
FIRST_FILED = "2025-01-10"


def claim(
    key: str = "AU/TM/2500001",
    *,
    filed: str = "2025-07-10",
    target: str = FIRST,
    date: str = FIRST_FILED,
    applicant: str = "NORDLICHT  gmbh",
    nice: tuple[int, ...] = (9,),
) -> dict[str, Any]:
    document = event_document(key, day=filed, nice=nice)
    document["record_data"]["applicants"] = [{"name": applicant, "country_code": "DE"}]
    document["links"] = [{"relation": "priority", "record_key": target, "link_date": date}]
    return document


@pytest.fixture
def first_filing(node: RunningNode) -> RunningNode:
    """EM's first filing (classes 9 and 42, Nordlicht GmbH), anchored and indexed."""
    response = node.client.post(
        "/api/v1/offices/EM/events",
        json={"events": [event_document(FIRST, day=FIRST_FILED)]},
        headers=node.token("EM"),
    )
    assert response.status_code == 202, response.text
    node.service.wait_for_submission("EM", response.json()["id"], timeout=120)
    node.service.wait_until_idle(timeout=120)
    return node


def submit(node: RunningNode, document: dict[str, Any]) -> Any:
    return node.client.post(
        "/api/v1/offices/AU/events", json={"events": [document]}, headers=node.token("AU")
    )


def test_a_valid_cross_office_priority_claim_is_accepted_and_shown_both_ways(
    first_filing: RunningNode,
) -> None:
    node = first_filing
    response = submit(node, claim())
    assert response.status_code == 202, response.text
    [check] = response.json()["entries"][0]["links"]
    assert (check["result"], check["record_key"], check["relation"]) == (
        "link-verified",
        FIRST,
        "priority",
    )
    node.service.wait_for_submission("AU", response.json()["id"], timeout=120)
    node.service.wait_until_idle(timeout=120)
    polled = node.client.get(
        f"/api/v1/submissions/{response.json()['id']}", headers=node.token("AU")
    )
    assert polled.json()["entries"][0]["links"] == [check]

    incoming = node.client.get(f"/api/v1/records/{FIRST}/links").json()["items"]
    assert [(link["direction"], link["record_key"]) for link in incoming] == [
        ("incoming", "AU/TM/2500001")
    ]
    outgoing = node.client.get("/api/v1/records/AU/TM/2500001/links").json()["items"]
    assert [(link["direction"], link["record_key"]) for link in outgoing] == [("outgoing", FIRST)]
    found = node.client.get("/api/v1/records", params={"links_to": FIRST, "relation": "priority"})
    assert [item["record_key"] for item in found.json()["items"]] == ["AU/TM/2500001"]

    # Verification re-checks the claim against the chain as of its event.
    verified = node.client.get("/api/v1/records/AU/TM/2500001/verify").json()
    assert verified["links_ok"] is True
    assert [(c["seq"], c["result"], c["record_key"]) for c in verified["link_checks"]] == [
        (1, "link-verified", FIRST)
    ]


def test_verification_reports_a_bad_claim_written_straight_to_the_chain(
    first_filing: RunningNode, signer_keys: dict[str, OfficeKey]
) -> None:
    """A claim no node would accept, anchored past the API by an office's own key: the chain
    holds it, and verification names what is wrong with it."""
    node = first_filing
    bad = RegisterEvent.from_document(claim("AU/TM/2500002", date="2025-01-11"))
    node.service.node.ledger.anchor(signer_keys["AU"], [to_anchor(bad)])
    node.service.wait_until_idle(timeout=120)
    verified = node.client.get("/api/v1/records/AU/TM/2500002/verify").json()
    assert verified["ok"] is True  # the stored data is what the chain holds ...
    assert verified["links_ok"] is False  # ... but the claim is wrong
    [check] = verified["link_checks"]
    assert check["result"] == "link-date-mismatch"
    assert "was filed on 2025-01-10, not 2025-01-11" in check["reason"]


CASES = {
    "target missing": (
        claim(target="EM/TM/018799999"),
        "events[0].links[0].record_key",
        "link-target-missing",
    ),
    "wrong date": (claim(date="2025-01-11"), "events[0].links[0].link_date", "link-date-mismatch"),
    "out of window": (claim(filed="2025-07-11"), "events[0].links[0]", "link-out-of-window"),
    "filed before the first filing": (
        claim(filed="2025-01-09"),
        "events[0].links[0]",
        "link-out-of-window",
    ),
    "another applicant": (
        claim(applicant="Someone Else SA"),
        "events[0].links[0]",
        "link-applicant-mismatch",
    ),
    "classes not covered": (
        claim(nice=(9, 25)),
        "events[0].links[0]",
        "link-classes-not-covered",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_failing_check_is_a_422_naming_the_link(first_filing: RunningNode, case: str) -> None:
    document, field, result = CASES[case]
    before = written(first_filing)
    response = submit(first_filing, document)
    assert_problem(response, 422, field, "invalid-input")
    assert response.json()["detail"].startswith(f"{result}: "), response.json()
    assert written(first_filing) == before


def test_a_link_to_a_non_member_office_is_accepted_as_unverifiable(
    first_filing: RunningNode,
) -> None:
    response = submit(first_filing, claim(target="US/TM/97000001"))
    assert response.status_code == 202, response.text
    [check] = response.json()["entries"][0]["links"]
    assert check["result"] == "link-unverifiable"
    assert "US is not a member office" in check["reason"]


def test_the_priority_period() -> None:
    def never(_office: str, _day: datetime.date) -> bool:
        return False

    # Art. 4C(2): the first filing's day is not counted; same day six months on.
    assert priority_period_end(D(2025, 1, 10), "AU", never) == D(2025, 7, 10)
    # No such day in the sixth month: its last day.
    assert priority_period_end(D(2025, 8, 31), "AU", never) == D(2026, 2, 28)
    assert priority_period_end(D(2023, 8, 31), "AU", never) == D(2024, 2, 29)
    # Art. 4C(3): a period ending on a closed day runs to the next working day.
    assert priority_period_end(D(2025, 1, 12), "AU", office_closed) == D(2025, 7, 14)  # Sat
    # EUIPO's end-of-year closure, New Year, then a weekend.
    assert priority_period_end(D(2025, 6, 25), "EM", office_closed) == D(2026, 1, 5)
