"""The workshop page is served by the node, with its own script and style, and only calls API
paths that exist."""

from __future__ import annotations

import re

from tests.helpers.nodes import RunningNode


def test_workshop_page_is_served_at_the_root(node: RunningNode) -> None:
    reply = node.client.get("/", follow_redirects=True)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert "Governance" in reply.text and "Live feed" in reply.text
    for asset, kind in (("workshop.js", "text/javascript"), ("workshop.css", "text/css")):
        served = node.client.get(f"/workshop/{asset}")
        assert served.status_code == 200 and served.headers["content-type"].startswith(kind)
    assert node.client.get("/workshop/secrets.json").status_code == 404


def test_every_api_path_the_page_calls_is_in_the_openapi_description(node: RunningNode) -> None:
    script = node.client.get("/workshop/workshop.js").text
    paths = set(node.client.get("/api/v1/openapi.json").json()["paths"])
    called = set(
        re.findall(r'(?:get\(\s*[`"]|\$\{(?:node\.api|API)\}|node\.api \+ ")(/[a-z-]+)', script)
    )
    assert {"/records", "/network", "/feed", "/offices", "/proposals"} <= called
    for path in called - {"/demo"}:  # demo routes exist only on a --demo node
        assert any(p == "/api/v1" + path or p.startswith("/api/v1" + path + "/") for p in paths), (
            path
        )
