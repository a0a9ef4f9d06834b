"""``ipchain index retry-quarantined``: index again the chain logs a node quarantined.

A log is quarantined when this node cannot parse or store it (untrusted content written by
another office, or by a bug). After an upgrade that reads more — a newer event catalogue, a
fixed parser — the operator runs this once: each quarantined log is read afresh from the chain
and handed to the indexer's handlers in chain order, and what still fails stays quarantined
with its reason. Safe while the node runs (the indexer's checkpoint row serialises the two).
"""

from __future__ import annotations

from ipchain.cli.audit import open_index
from ipchain.config import Settings
from ipchain.db.base import session_factory
from ipchain.db.indexer import Indexer, RetryOutcome


def retry_quarantined_command(settings: Settings) -> RetryOutcome:
    """Retry the quarantined logs of the node of ``settings``; what happened."""
    # Imported here: node set-up opens the chain, which the module's importers need not.
    from ipchain.node.service import node_handlers
    from ipchain.node.setup import Node

    engine = open_index(settings)
    try:
        node = Node.open(settings)
        try:
            indexer = Indexer(
                node.backend,
                node.deployment,
                session_factory(engine),
                node_handlers(node.backend, node.deployment),
            )
            return indexer.retry_quarantined()
        finally:
            node.close()
    finally:
        engine.dispose()
