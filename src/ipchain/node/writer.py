"""The writer process of a node: the submitter and the indexer, and nothing else.

``python -m ipchain.node.writer`` runs them over the node of the ``IPCHAIN_*`` settings until
SIGTERM or SIGINT, then finishes the round in progress and exits. It is the only process of a
node that decrypts the office's signer keys; the API processes only write the outbox, which the
submitter polls. It prints ``writer: ready`` once both threads run (the supervisor waits for
that line).

It publishes the submitter's and the indexer's state — running, or failing since when and why
— to ``run/writer-state.json`` every second and whenever it changes
(:class:`~ipchain.node.service.StatePublisher`); the API processes read it for ``/health`` and
refuse new submissions while anchoring is stopped.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType
from typing import Final

from ipchain.config import Settings
from ipchain.encoding import prefer_pysha3_for_libraries
from ipchain.errors import IpchainError
from ipchain.node.service import NodeService, ServiceOptions

READY_LINE: Final = "writer: ready"
"""What the process prints once it anchors and indexes."""

_POLL_SECONDS: Final = 0.05
"""Outbox polls while idle: an API process in another process cannot wake the submitter, so
it looks often (an indexed query on a small table)."""


def main() -> int:
    """Run until told to stop; exit code 2 with one line when the node cannot start."""
    prefer_pysha3_for_libraries()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        options = ServiceOptions(submitter_interval=_POLL_SECONDS, publish_state=True)
        service = NodeService(Settings(), options)
        service.start()
    except IpchainError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    try:
        offices = ", ".join(sorted(service.submissions.offices)) or "none"
        print(f"{READY_LINE} (signing for {offices})", flush=True)
        stop.wait()
    finally:
        service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
