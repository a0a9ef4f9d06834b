"""A JSON-RPC node that requires a bearer token (a Besu auditor node with JWT): ipchain sends
``IPCHAIN_RPC_TOKEN`` as ``Authorization: Bearer``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ipchain.chain.rpc import RpcChain
from ipchain.errors import ChainUnavailableError

TOKEN = "a.jwt.token"


class _Guarded(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
            self.end_headers()
            return
        reply = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": "0x7a69"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def guarded_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Guarded)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_token_is_sent_as_a_bearer_token(guarded_url: str) -> None:
    chain = RpcChain.connect(guarded_url, token=TOKEN)
    assert chain.chain_id == 31337
    chain.close()


def test_without_the_token_the_node_does_not_answer(guarded_url: str) -> None:
    with pytest.raises(ChainUnavailableError):
        RpcChain.connect(guarded_url)
