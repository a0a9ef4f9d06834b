"""The workshop page in a real browser, against ``ipchain serve --demo``: what a presenter does
in front of a room (../shared/WORKSHOP.md), step by step, with a screenshot of each step.

The tests share one node and run in file order; the tamper test changes the node's database,
so it runs after those that expect it clean.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Request, Route, expect

if TYPE_CHECKING:
    from tests.browser.conftest import DemoNode, Session

KELTRA = "EM/TM/011215714"
"""The demo record of the workshop's tampering scene: transferred to Nortaar SAS."""


def open_page(session: Session, node: DemoNode, record: str | None = None) -> None:
    session.page.goto(f"{node.url}/workshop" + (f"#{record}" if record else ""))
    expect(session.page.locator(".node.up")).to_have_count(1)
    expect(session.page.locator(".event.ok").first).to_be_visible()
    expect(session.page.locator(".feed-item").first).to_be_visible()


def test_the_page_loads_with_the_node_its_feed_and_no_console_errors(
    session: Session, demo_node: DemoNode
) -> None:
    open_page(session, demo_node)
    page = session.page
    node = page.locator(".node")
    expect(node).to_contain_text("AU · EM · RU")
    expect(node).to_contain_text(re.compile(r"head \d+ · indexed \d+ · lag \d+"))
    expect(node.locator(".badge.verified")).to_be_visible()
    expect(page.locator("#chain")).to_contain_text("1 of 1 node live")
    feed = page.locator(".feed-item").first
    expect(feed.locator(".office")).to_have_text(re.compile(r"^(EM|AU|RU)$"))
    expect(feed.locator(".when")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
    session.shot("loaded")


def test_search_finds_the_placeholders_example(session: Session, demo_node: DemoNode) -> None:
    open_page(session, demo_node)
    page = session.page
    placeholder = page.locator("#q").get_attribute("placeholder") or ""
    example = placeholder.rpartition("e.g. ")[2].strip()
    assert example, placeholder
    page.fill("#q", example)
    page.click("#search button")
    expect(page.locator("#results")).not_to_contain_text("0 records")
    first = page.locator("#results [data-key]").first
    expect(first).to_contain_text(example)
    session.shot("search")
    first.click()
    expect(page.locator("#record .mark")).to_contain_text(example)


def test_a_records_timeline_is_verified_and_its_links_go_both_ways(
    session: Session, demo_node: DemoNode
) -> None:
    open_page(session, demo_node, KELTRA)
    page = session.page
    events = page.locator(".timeline .event")
    expect(events).to_have_count(13)
    expect(page.locator(".timeline .event .badge.verified")).to_have_count(13)
    expect(page.locator("#record .summary")).to_contain_text("every event matches the chain")
    expect(page.locator(".event", has_text="Transfer of ownership")).to_contain_text(
        "holder: Nortaar SAS"
    )
    expect(page.locator(".event", has_text="Application filed").first).to_contain_text("applicant:")
    expect(page.locator(".hash").first).to_be_hidden()
    page.click("#toggle-hashes")
    expect(page.locator(".hash").first).to_be_visible()
    session.shot("timeline")
    page.click("#toggle-hashes")

    outgoing = page.locator("#links .chip.outgoing").first
    expect(outgoing).to_contain_text("EM/TM/010594732")
    outgoing.click()
    expect(page.locator("#record .record-head")).to_contain_text("EM/TM/010594732")
    back = page.locator("#links .chip.incoming", has_text=KELTRA)
    expect(back).to_be_visible()
    session.shot("link-back")

    # A priority claim across offices, both ways.
    priority = httpx.get(f"{demo_node.url}/api/v1/records/AU/DS/201211080/links", timeout=10)
    claimant = priority.json()["items"][0]["record_key"]
    page.goto(f"{demo_node.url}/workshop#AU/DS/201211080")
    chip = page.locator("#links .chip.incoming", has_text=claimant)
    expect(chip).to_contain_text("priority claimed by")
    chip.click()
    claim = page.locator("#links .chip.outgoing", has_text="AU/DS/201211080")
    expect(claim).to_contain_text("claims priority of")
    expect(claim).to_contain_text("✓")  # re-checked against the chain
    expect(claim).to_have_class(re.compile(r"\blink-ok\b"))
    session.shot("priority")

    # A claim no node would accept, anchored past the API: the chain holds it, and its chip
    # says which check fails.
    page.goto(f"{demo_node.url}/workshop#EM/TM/019900001")
    bad = page.locator("#links .chip.outgoing")
    expect(bad).to_have_class(re.compile(r"\blink-fail\b"))
    expect(bad).to_contain_text("date mismatch")
    expect(page.locator("#record .summary")).to_contain_text("every event matches the chain")
    session.shot("priority-failing")


def test_presenter_mode_fits_1280_by_720_without_wrapping(
    session: Session, demo_node: DemoNode
) -> None:
    open_page(session, demo_node, KELTRA)
    page = session.page
    page.click("#toggle-presenter")
    expect(page.locator("body")).to_have_class(re.compile("presenter"))
    size = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    assert size[0] <= 1280 and size[1] <= 720, size
    wrapped = page.evaluate(
        """() => Array.from(document.querySelectorAll(
              '.feed-item, .node .line, .results div, .event .what, .facts, .chips'))
            .filter((el) => el.offsetParent !== null)
            .filter((el) => el.getBoundingClientRect().height >
                            1.9 * parseFloat(getComputedStyle(el).lineHeight || '20'))
            .map((el) => el.className + ': ' + el.textContent.trim().slice(0, 60))"""
    )
    assert not wrapped, wrapped
    session.shot("presenter")
    page.click("#toggle-presenter")  # the choice is remembered per browser profile


def test_a_submit_through_the_form_is_pushed_into_the_feed(
    session: Session, demo_node: DemoNode
) -> None:
    open_page(session, demo_node)
    page = session.page
    requests: list[str] = []
    page.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
    page.click("[data-tab=file]")
    page.fill("#token", demo_node.token("EM"))
    mark = f"PUSHED {int(time.time()) % 100000}"
    page.fill("#mark", mark)
    session.shot("form")
    started = time.monotonic()
    page.click("#submit-button")
    item = page.locator(".feed-item", has_text=mark)
    expect(item).to_be_visible(timeout=20_000)
    latency = time.monotonic() - started
    expect(item).to_contain_text("Application filed")
    expect(item.locator(".office")).to_have_text("EM")
    expect(page.locator("#submit-status")).to_contain_text("is in the feed of 1 of 1 node")
    session.shot("pushed")
    posts = [r for r in requests if r.startswith("POST ")]
    assert len(posts) == 1 and "/api/v1/offices/EM/events" in posts[0], posts
    # Pushed, not polled: the event came over the page's one open EventSource.
    assert not [r for r in requests if "/api/v1/feed" in r or "/api/v1/events" in r], requests
    print(f"submit -> in the feed: {latency:.2f} s")


def test_the_governance_panel_lists_offices_and_shows_a_vote_arriving(
    session: Session, demo_node: DemoNode
) -> None:
    open_page(session, demo_node)
    page = session.page
    page.click("[data-tab=governance]")
    for office in ("EM", "AU", "RU"):
        row = page.locator(f".office-row[data-office={office}]")
        expect(row.locator(".badge")).to_have_text("active")
        expect(row).to_contain_text("admitted at block")
    session.shot("offices")

    api = f"{demo_node.url}/api/v1"

    def as_office(office: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {demo_node.token(office)}"}

    proposed = httpx.post(
        f"{api}/proposals",
        json={"action": "change-threshold", "value": 6000},
        headers=as_office("EM"),
        timeout=30,
    )
    assert proposed.status_code == 201, proposed.text
    number = proposed.json()["proposal_id"]
    proposal = page.locator(f".proposal[data-id='{number}']")
    expect(proposal).to_have_attribute("data-state", "open")
    expect(proposal).to_contain_text("change-threshold to 60%")
    session.shot("proposal-open")
    voted = httpx.post(f"{api}/proposals/{number}/votes", headers=as_office("AU"), timeout=30)
    assert voted.status_code == 201, voted.text
    expect(proposal).to_have_attribute("data-state", "executed")
    expect(proposal.locator(".voter.arrived")).to_have_text("AU")
    session.shot("vote-arrived")


def test_tampering_turns_this_node_red_and_names_the_field(
    session: Session, demo_node: DemoNode
) -> None:
    open_page(session, demo_node, KELTRA)
    page = session.page
    node = page.locator(".node")
    expect(node).to_have_attribute("data-verdict", "verified")
    session.shot("before")
    node.locator("button.tamper").click()
    expect(node).to_have_attribute("data-verdict", "tampered")
    expect(node).to_have_class(re.compile(r"\bbad\b"))
    expect(node).to_contain_text("holder: Nortaar SAS → Mallory Holdings Ltd")
    expect(node).to_contain_text("the chain still holds the original")
    transfer = page.locator(".event", has_text="Transfer of ownership")
    expect(transfer.locator(".badge")).to_have_class(re.compile("tampered"))
    expect(transfer).to_contain_text("holder: Nortaar SAS → Mallory Holdings Ltd")
    expect(page.locator("#record .summary")).to_contain_text("does NOT match the chain")
    expect(page.locator(".timeline .event .badge.verified")).to_have_count(12)
    session.shot("tampered")


def test_the_network_view_reads_every_node_straight_from_it(
    session: Session, demo_node: DemoNode
) -> None:
    # Two entries for one node under two origins (127.0.0.1 and localhost): the page reads the
    # second one cross-origin, as it reads another office's node in a network.
    other = demo_node.url.replace("127.0.0.1", "localhost")
    nodes = [{"office": "EM", "url": demo_node.url}, {"office": "AU", "url": other}]
    demo_node.network_file.write_text(json.dumps({"nodes": nodes}), "utf-8")
    try:
        page = session.page
        straight: list[str] = []
        page.on("request", lambda r: straight.append(r.url) if r.url.startswith(other) else None)
        page.goto(f"{demo_node.url}/workshop#EM/TM/010594732")
        expect(page.locator(".node.up")).to_have_count(2)
        expect(page.locator(".node[data-verdict=verified]")).to_have_count(2)
        expect(page.locator(".node").nth(1)).to_contain_text("localhost")
        expect(page.locator("#chain")).to_contain_text("2 of 2 nodes live")
        for path in ("/api/v1/network", "/api/v1/feed", "/api/v1/records/EM/TM/010594732/verify"):
            assert other + path in straight, straight
        reply = httpx.post(
            f"{demo_node.url}/api/v1/offices/RU/events",
            json={
                "schema": "ipchain/register-event/v1",
                "record_key": "RU/TM/2024718586",
                "event_code": "U10",
                "event_date": "2025-07-01",
            },
            headers={"Authorization": f"Bearer {demo_node.token('RU')}"},
            timeout=30,
        )
        assert reply.status_code == 202, reply.text
        item = page.locator(".feed-item", has_text="RU/TM/2024718586").first
        expect(item.locator(".seen i.on")).to_have_count(2)
        session.shot("two-nodes")
    finally:
        demo_node.network_file.unlink()


def test_the_api_docs_render_with_no_internet(session: Session, demo_node: DemoNode) -> None:
    page = session.page
    left: list[str] = []

    def offline(route: Route, request: Request) -> None:
        if urlsplit(request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            left.append(request.url)
            route.abort("internetdisconnected")

    page.route("**/*", offline)
    page.goto(f"{demo_node.url}/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("ipchain register API")
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.locator(".opblock-tag", has_text="records").first).to_be_visible()
    session.shot("docs")
    assert not left, f"requests that left the machine: {left}"
