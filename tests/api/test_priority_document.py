"""The priority document (issue 12): printable HTML and PDF stating the first filing as
anchored, its verification against the chain, the claims on it and its proof bundle's QR
code; document values are escaped; a tampered index shows NOT VERIFIED."""

from __future__ import annotations

from sqlalchemy import update

from ipchain.db.register import events
from tests.api.test_bounds import assert_problem
from tests.api.test_links import FIRST, FIRST_FILED, claim, first_filing, submit  # noqa: F401
from tests.helpers.documents import event_document
from tests.helpers.nodes import RunningNode

PATH = f"/api/v1/records/{FIRST}/priority-document"


def test_the_priority_document_states_the_first_filing_and_its_claims(
    first_filing: RunningNode,  # noqa: F811
) -> None:
    node = first_filing
    accepted = submit(node, claim())
    assert accepted.status_code == 202, accepted.text
    node.service.wait_for_submission("AU", accepted.json()["id"], timeout=120)
    node.service.wait_until_idle(timeout=120)

    response = node.client.get(PATH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for text in (
        FIRST,
        FIRST_FILED,
        "Nordlicht GmbH",
        "NORDLICHT",
        "VERIFIED",
        "AU/TM/2500001",  # the claim on it
        f"/api/v1/records/{FIRST}/proof",
        "<svg",  # the QR code, inline
    ):
        assert text in page, text
    assert "NOT VERIFIED" not in page
    bundle = node.client.get(f"/api/v1/records/{FIRST}/proof")
    assert bundle.status_code == 200

    pdf = node.client.get(PATH, params={"format": "pdf"})
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and pdf.content.rstrip().endswith(b"%%EOF")
    assert len(pdf.content) > 5_000


def test_document_values_are_escaped_and_a_tampered_index_is_not_verified(
    node: RunningNode,
) -> None:
    key = "EM/TM/018700002"
    document = event_document(key, day=FIRST_FILED)
    hostile = '<script>alert("x")</script><img src="http://169.254.169.254/">'
    document["record_data"]["applicants"][0]["name"] = hostile
    accepted = node.client.post(
        "/api/v1/offices/EM/events", json=document, headers=node.token("EM")
    )
    assert accepted.status_code == 202, accepted.text
    node.service.wait_for_submission("EM", accepted.json()["id"], timeout=120)
    path = f"/api/v1/records/{key}/priority-document"
    page = node.client.get(path).text
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(" in page and "&lt;img src=" in page
    assert node.client.get(path, params={"format": "pdf"}).status_code == 200

    with node.service.session_factory() as session, session.begin():
        session.execute(
            update(events)
            .where(events.c.record_key == key)
            .values(document=events.c.document + " ")
        )
    page = node.client.get(path).text
    assert "NOT VERIFIED" in page and "document-tampered" in page


def test_unknown_records_and_bad_formats_are_problems(node: RunningNode) -> None:
    assert_problem(node.client.get(PATH), 404, None, "not-found")
    assert_problem(node.client.get(PATH, params={"format": "docx"}), 422, "format")
    assert_problem(node.client.get("/api/v1/records/EM/XX/1/priority-document"), 422, "record_key")
