"""A register anchored on anvil for the audit tests, and a node's database indexed from it."""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ipchain.chain.anvil import AnvilNode
from ipchain.chain.rpc import RpcChain
from ipchain.config import Settings
from ipchain.db.indexer import Indexer
from ipchain.register.indexing import register_handlers
from ipchain.register.ledger import EventToAnchor
from tests.helpers.consortium import Consortium
from tests.helpers.documents import design_event, to_anchor, trademark_event

DAY = datetime.date(2024, 3, 1)
TRADEMARK = "EM/TM/018000001"
"""Four events: A10, Q10 (with a national code), F10 (with an effective date), M10."""
SECOND = "EM/TM/018000002"
DESIGN = "AU/DS/202312345"
HASH_ONLY = "RU/TM/2024700001"
"""One event anchored by its hash alone (no document published)."""


@dataclass
class Register:
    """The module's chain: a consortium on anvil with a few records anchored."""

    node: AnvilNode
    backend: RpcChain
    consortium: Consortium

    @property
    def url(self) -> str:
        return self.node.url


def anchor_register(consortium: Consortium) -> None:
    em, au, ru = (consortium.signers[code] for code in ("EM", "AU", "RU"))
    filing = trademark_event(TRADEMARK, "A10", DAY, mark="Acme", nice=(9, 42))
    published = dataclasses.replace(
        trademark_event(TRADEMARK, "Q10", DAY.replace(day=20)), national_code="PUB-1"
    )
    consortium.ledger.anchor(
        em,
        [
            to_anchor(filing),
            to_anchor(trademark_event(SECOND, "A10", DAY, mark="Zenith", nice=(25,))),
            to_anchor(published),
        ],
    )
    granted = dataclasses.replace(
        trademark_event(
            TRADEMARK,
            "F10",
            DAY.replace(month=6),
            registration_date=DAY.replace(month=6),
            expiry_date=DAY.replace(year=2034),
        ),
        effective_date=DAY.replace(month=7),
    )
    consortium.ledger.anchor(
        em,
        [
            to_anchor(granted),
            to_anchor(trademark_event(SECOND, "Q10", DAY.replace(day=21))),
            to_anchor(trademark_event(TRADEMARK, "M10", DAY.replace(year=2025))),
        ],
    )
    consortium.ledger.anchor(
        au, [to_anchor(design_event(DESIGN, "A10", DAY, locarno=("06-01",), product="Chair"))]
    )
    consortium.ledger.anchor(ru, [EventToAnchor(HASH_ONLY, "A10", b"\x11" * 32)])


@dataclass
class IndexedNode:
    """A node's data directory and index database, indexed from the module's chain."""

    register: Register
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    def sql(self, statement: str, **parameters: Any) -> None:
        """Change the database behind the node's back."""
        with self.engine.begin() as connection:
            connection.execute(text(statement), parameters)

    def scalar(self, statement: str, **parameters: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(text(statement), parameters).scalar()

    def index(self) -> int:
        """Index what the chain has that the database lacks."""
        deployment = self.register.consortium.deployment
        return Indexer(
            self.register.backend, deployment, self.sessions, register_handlers()
        ).run_once()
