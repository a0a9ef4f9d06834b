"""The workshop page against ``ipchain network up``: four office nodes side by side on one page,
all agreeing on a record; an event filed on one node arriving in the page of another; one node's
database tampered with, and only that node turning red (../shared/WORKSHOP.md)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from playwright.sync_api import expect

from ipchain.node.service import example_events
from tests.helpers.cli import IPCHAIN

if TYPE_CHECKING:
    from tests.browser.conftest import Session


def _base_port(count: int) -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        ok = True
        for port in range(base, base + count):
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
        if ok and base + count < 65000:
            return base
    raise AssertionError("no run of free ports")


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("browser-network") / "net"
    base = _base_port(6)
    environment = {**os.environ, "IPCHAIN_KEYSTORE_FAST_KDF": "1"}
    argv = [*IPCHAIN, "network", "up", "--dir", str(root), "--demo"]
    argv += ["--rpc-port", str(base), "--base-port", str(base + 1)]
    started = subprocess.run(argv, capture_output=True, text=True, env=environment, timeout=600)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        state = json.loads((root / "network.json").read_text("utf-8"))
        yield {"root": root, "nodes": {node["office"]: node for node in state["nodes"]}}
    finally:
        subprocess.run([*IPCHAIN, "network", "down", "--dir", str(root)], timeout=300)


def _token(network: dict[str, Any], office: str) -> str:
    path = Path(network["nodes"][office]["data_dir"]) / "secrets" / "demo-tokens.json"
    return str(json.loads(path.read_text("utf-8"))[office])


def test_four_nodes_agree_a_submit_crosses_and_a_tampered_node_alone_turns_red(
    session: Session, network: dict[str, Any]
) -> None:
    nodes = network["nodes"]
    em, au, ru = nodes["EM"], nodes["AU"], nodes["RU"]
    record = httpx.get(f"{em['url']}/api/v1/records?office=EM&limit=1", timeout=10).json()
    key = record["items"][0]["record_key"]
    page = session.page
    page.goto(f"{em['url']}/workshop#{key}")
    cards = page.locator(".node")
    expect(cards).to_have_count(4)
    expect(page.locator(".node.up")).to_have_count(4)
    expect(page.locator(".node[data-verdict=verified]")).to_have_count(4)
    expect(page.locator("#chain")).to_contain_text("4 of 4 nodes live")
    session.shot("four-agree")

    # Filed on AU's node, pushed into the page EM's node serves.
    filing, _ = example_events("AU")
    mark = f"CROSSING {int(time.time()) % 100000}"
    filing["record_data"]["mark_verbal_element_text"] = mark
    reply = httpx.post(
        f"{au['url']}/api/v1/offices/AU/events",
        json=filing,
        headers={"Authorization": f"Bearer {_token(network, 'AU')}"},
        timeout=30,
    )
    assert reply.status_code == 202, reply.text
    expect(page.locator(".feed-item", has_text=mark).first).to_be_visible(timeout=30_000)
    session.shot("crossed")

    # RU's database changed behind its back: RU's card alone turns red, naming the field.
    tampered = httpx.post(f"{ru['url']}/api/v1/demo/records/{key}/tamper", json={}, timeout=30)
    assert tampered.status_code in (200, 201), tampered.text
    page.reload()  # a new look, as the room would press F5 (the same URL: no navigation)
    ru_card = cards.nth(list(nodes).index("RU"))
    expect(ru_card).to_have_attribute("data-verdict", "tampered", timeout=30_000)
    expect(ru_card).to_contain_text(re.compile(r"→"))
    expect(page.locator(".node[data-verdict=verified]")).to_have_count(3)
    session.shot("ru-tampered")
