"""The workshop page is served by the node and only calls API paths that exist."""

from __future__ import annotations

import re

from tests.helpers.nodes import RunningNode


def test_workshop_page_is_served_at_the_root(node: RunningNode) -> None:
    reply = node.client.get("/", follow_redirects=True)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert "Member offices" in reply.text and "Live feed" in reply.text


def test_every_api_path_the_page_calls_is_in_the_openapi_description(node: RunningNode) -> None:
    page = node.client.get("/workshop").text
    paths = set(node.client.get("/api/v1/openapi.json").json()["paths"])
    called = set(re.findall(r'get\(\s*[`"](/[a-z]+)', page))
    assert called, "the page calls no API path"
    for path in called:
        assert any(p == "/api/v1" + path or p.startswith("/api/v1" + path + "/") for p in paths), (
            path
        )
