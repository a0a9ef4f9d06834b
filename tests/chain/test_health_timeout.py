"""A chain node that stops answering (stopped, not dead: its port still accepts) holds a
health check for at most the health timeout, not the 30 s of a chain read."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests

from ipchain.chain.rpc import RpcChain
from ipchain.errors import ChainUnavailableError


def test_block_number_within_gives_up_on_a_silent_node() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    threading.Thread(
        target=lambda: accepted.append(listener.accept()[0]), daemon=True
    ).start()  # accepts, reads nothing, answers nothing (a SIGSTOPped process)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    chain = RpcChain(url, requests.Session(), 31337, 30.0)
    started = time.monotonic()
    with pytest.raises(ChainUnavailableError):
        chain.block_number_within(0.5)
    assert time.monotonic() - started < 5
    listener.close()
