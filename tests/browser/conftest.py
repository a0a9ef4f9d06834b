"""One demo node and one Chromium for the whole browser suite.

The node is ``ipchain serve --demo`` on anvil, as a presenter runs it (``--workers 1``); the
browser is Debian's ``/usr/bin/chromium`` driven by playwright (never ``playwright install``).
Every test gets a fresh page whose console errors fail it, and writes screenshots of its steps
to :data:`SCREENSHOTS` (not committed) for a person to look at.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")

SCREENSHOTS = Path(
    os.environ.get("IPCHAIN_SCREENSHOTS", Path(__file__).resolve().parent / "screenshots")
)
"""Where the suite writes its screenshots (emptied at the start of a run)."""

if not CHROMIUM.exists():
    pytest.skip(
        "Chromium is not installed at /usr/bin/chromium (apt-get install chromium; CI does)",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright  # noqa: E402

from ipchain.chain.anvil import AnvilNode  # noqa: E402
from tests.helpers.cli import IPCHAIN  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class DemoNode:
    """A running ``ipchain serve --demo``."""

    url: str
    data_dir: Path
    output: Path
    network_file: Path
    """What ``IPCHAIN_NETWORK_FILE`` names for the node (absent: the node alone)."""

    def token(self, office: str) -> str:
        tokens = json.loads((self.data_dir / "secrets" / "demo-tokens.json").read_text("utf-8"))
        return str(tokens[office])


@pytest.fixture(scope="session")
def demo_node(tmp_path_factory: pytest.TempPathFactory, anvil_binary: Path) -> Iterator[DemoNode]:
    anvil = AnvilNode.start()
    root = tmp_path_factory.mktemp("browser")
    data_dir = root / "node"
    output = root / "serve.out"
    port = free_port()
    environment = {**os.environ, "IPCHAIN_KEYSTORE_FAST_KDF": "1"}
    environment.pop("IPCHAIN_DEMO", None)  # the --demo flag alone must turn demo mode on
    # No file there yet: the page shows this node alone until a test writes one.
    network_file = root / "network.json"
    environment["IPCHAIN_NETWORK_FILE"] = str(network_file)
    with output.open("w") as sink:
        process = subprocess.Popen(
            [
                *IPCHAIN,
                *("serve", "--demo", "--rpc", anvil.url, "--data-dir", str(data_dir)),
                *("--port", str(port), "--workers", "1"),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            env=environment,
        )
    try:
        deadline = time.monotonic() + 240
        while "Try it" not in output.read_text("utf-8"):
            assert process.poll() is None, output.read_text("utf-8")
            assert time.monotonic() < deadline, output.read_text("utf-8")
            time.sleep(0.2)
        yield DemoNode(f"http://127.0.0.1:{port}", data_dir, output, network_file)
    finally:
        try:
            process.terminate()  # the supervisor stops its writer and API workers
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        finally:
            anvil.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Session:
    """A page of the browser, its console errors, and its screenshots."""

    page: Page
    name: str
    errors: list[str] = field(default_factory=list)
    shots: int = 0

    def shot(self, step: str) -> Path:
        """Save a screenshot of the page as ``<test>-<n>-<step>.png``."""
        self.shots += 1
        path = SCREENSHOTS / f"{self.name}-{self.shots}-{step}.png"
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture
def session(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Session]:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.set_default_timeout(15_000)
    name = request.node.name.removeprefix("test_")
    current = Session(page, name)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            current.errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: current.errors.append(f"uncaught: {error}"))
    try:
        yield current
        assert not current.errors, f"console errors: {current.errors}"
    finally:
        context.close()
