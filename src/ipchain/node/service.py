"""A running ipchain node: chain, index, submissions, the submitter and indexer threads.

:class:`NodeService` composes the pieces one office's node runs: the open
:class:`~ipchain.node.setup.Node` (chain connection, deployment, keystore), the index database
(migrated at start), the read service (:class:`~ipchain.register.queries.RegisterQueries`), the
write service (:class:`~ipchain.register.submissions.SubmissionService`), and two background
threads: the :class:`~ipchain.register.submitter.Submitter` anchoring the outbox and the
:class:`~ipchain.db.indexer.Indexer` reading the chain into the index. :func:`load_demo_data`
fills a new node with the workshop data set. Serving the HTTP API over it (``ipchain serve``)
is ``api.server``'s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ipchain.chain.base import ChainBackend
from ipchain.config import DEMO_OFFICES, Settings
from ipchain.contracts.bindings import Deployment
from ipchain.db.base import make_engine, session_factory, upgrade
from ipchain.db.indexer import HandlerRegistry, Indexer
from ipchain.db.submissions import OutboxState, outbox
from ipchain.errors import ChainError
from ipchain.governance.actions import GovernanceActions
from ipchain.governance.indexing import register_governance_handlers
from ipchain.governance.queries import GovernanceQueries
from ipchain.governance.registry import Governance, OfficeInfo
from ipchain.keys import OfficeKey, signer_key_name
from ipchain.node.setup import Node
from ipchain.node.tokens import authenticate, create_token
from ipchain.register.indexing import register_handlers
from ipchain.register.ledger import DEFAULT_BATCH_SIZE
from ipchain.register.queries import RegisterQueries
from ipchain.register.submissions import SubmissionService, SubmissionView
from ipchain.register.submitter import Submitter
from ipchain.verification import Verifier

logger = logging.getLogger("ipchain.node.service")

DEMO_RECORDS_PER_OFFICE: Final = 100
"""Records per demo office: with their histories, about 1,500 events for three offices."""

DEMO_BATCH_EVENTS: Final = 2_000
"""Events per submission when loading the demo data."""

_SIGNER_SUFFIX: Final = "-signer"
_OFFICE_CACHE_SECONDS: Final = 5.0


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    """How a node runs its background work."""

    run_submitter: bool = True
    """Start the submitter thread (off: accepted events wait in the outbox)."""
    run_indexer: bool = True
    """Start the indexer thread."""
    confirmations: int = 0
    """Blocks the indexer stays behind the head (0 for the dev chains, which never reorg)."""
    batch_size: int = DEFAULT_BATCH_SIZE
    """Entries per ``recordEvents`` transaction."""
    max_rows: int = 2_000
    """Outbox rows per submitter round."""
    signer_offices: tuple[str, ...] | None = None
    """Offices whose signer keys to load (None: every ``XX-signer`` key in the keystore)."""
    indexer_interval: float = 0.1
    """Seconds between indexer polls when it has caught up."""
    submitter_interval: float = 0.5
    """Seconds between outbox polls when the submitter is idle and nobody wakes it (an API in
    another process cannot: the writer process polls more often)."""


class _KeysOnDemand(Mapping[str, OfficeKey]):
    """Signer keys decrypted on first use: a process that never anchors (an API worker) never
    decrypts them, yet a tool may still drive its submitter by hand."""

    def __init__(self, offices: Iterable[str], load: Callable[[str], OfficeKey]) -> None:
        self._offices = frozenset(offices)
        self._load = load
        self._keys: dict[str, OfficeKey] = {}

    def __getitem__(self, office: str) -> OfficeKey:
        if office not in self._offices:
            raise KeyError(office)
        if office not in self._keys:
            self._keys[office] = self._load(office)
        return self._keys[office]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._offices))

    def __len__(self) -> int:
        return len(self._offices)


class NodeService:
    """One node's services and background threads."""

    def __init__(
        self,
        settings: Settings,
        options: ServiceOptions | None = None,
        *,
        signer_keys: Mapping[str, OfficeKey] | None = None,
    ) -> None:
        """``signer_keys`` (office code to key) replaces reading the node's keystore, for
        callers that already hold the keys decrypted (tests, tools)."""
        self.settings = settings
        self.options = options or ServiceOptions()
        self._given_keys = None if signer_keys is None else dict(signer_keys)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = False
        self._office_cache: tuple[float, list[OfficeInfo]] | None = None
        # Set by start():
        self.node: Node
        self.engine: Engine
        self.session_factory: sessionmaker[Session]
        self.queries: RegisterQueries
        self.submissions: SubmissionService
        self.submitter: Submitter
        self.indexer: Indexer
        self.governance: Governance
        self.governance_queries: GovernanceQueries
        self.governance_actions: GovernanceActions

    # ---------------------------------------------------------------------- lifecycle

    def start(self) -> NodeService:
        """Open the node and the index (migrated to the latest schema), load the signer keys,
        and start the background threads. Returns ``self``."""
        if self._started:
            return self
        url = self.settings.resolved_database_url()
        upgrade(url)
        self.node = Node.open(self.settings)
        self.engine = make_engine(url)
        self.session_factory = session_factory(self.engine)
        try:
            # Only a process that anchors decrypts the signer keys; an API process needs to
            # know which offices this node writes for, which the keystore's addresses tell.
            keys: Mapping[str, OfficeKey]
            if self.options.run_submitter:
                keys = self._load_signer_keys()
            else:
                keys = _KeysOnDemand(self._signing_offices(), self._signer_key)
            offices = set(keys)
            self.queries = RegisterQueries(self.session_factory)
            self.verifier = Verifier(
                self.node.backend, self.node.deployment, session_factory=self.session_factory
            )
            self.governance = Governance(self.node.backend, self.node.deployment)
            self.governance_queries = GovernanceQueries(self.session_factory)
            self.governance_actions = GovernanceActions(
                self.node.backend,
                self.node.deployment,
                self.node.keystore,
                self.node.office_key,
                self.settings.data_dir,
                self.governance_queries,
                signer_keys=self._given_keys,
                on_change=self._forget_offices,
            )
            self.submitter = Submitter(
                self.node.ledger,
                self.session_factory,
                keys,
                batch_size=self.options.batch_size,
                max_rows=self.options.max_rows,
            )
            self.submissions = SubmissionService(
                self.session_factory,
                offices=offices,
                indexed_block=self.queries.indexed_block,
                on_accepted=self.submitter.wake,
            )
            self.indexer = Indexer(
                self.node.backend,
                self.node.deployment,
                self.session_factory,
                node_handlers(self.node.backend, self.node.deployment),
                self.options.confirmations,
            )
        except BaseException:
            self.node.close()
            self.engine.dispose()
            raise
        if self.options.run_submitter:
            self._spawn(
                "ipchain-submitter",
                self.submitter.run_forever,
                self._stop,
                self.options.submitter_interval,
            )
        if self.options.run_indexer:
            self._spawn(
                "ipchain-indexer",
                self.indexer.run_forever,
                self._stop,
                self.options.indexer_interval,
            )
        self._started = True
        return self

    def stop(self) -> None:
        """Stop the threads (finishing the round in progress), close the chain and the index."""
        if not self._started:
            return
        self._stop.set()
        self.submitter.wake()
        for thread in self._threads:
            thread.join(timeout=120)
        self._threads.clear()
        self.node.close()
        self.engine.dispose()
        self._started = False

    def __enter__(self) -> NodeService:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _signer_key(self, office: str) -> OfficeKey:
        if self._given_keys is not None:
            return self._given_keys[office]
        return self.node.office_key(signer_key_name(office))

    def _signing_offices(self) -> set[str]:
        """The offices whose signer key this node holds and the chain knows as an active
        office's signer, from the keystore's addresses (nothing decrypted)."""
        if self._given_keys is not None:
            candidates = {office: key.address for office, key in self._given_keys.items()}
        else:
            candidates = {
                name[: -len(_SIGNER_SUFFIX)]: self.node.keystore.address_of(name)
                for name in self.node.keystore.names()
                if name.endswith(_SIGNER_SUFFIX)
            }
        wanted = self.options.signer_offices
        return {
            office
            for office, address in candidates.items()
            if (wanted is None or office in wanted)
            and self.node.ledger.office_of(address) == (office, True)
        }

    def _load_signer_keys(self) -> dict[str, OfficeKey]:
        """Decrypt each office signer key once (scrypt is slow on purpose) and keep it; skip,
        with a warning, keys the chain does not know as an active office's signer."""
        wanted = self.options.signer_offices
        if self._given_keys is not None:
            candidates = dict(self._given_keys)
        else:
            offices = [
                name[: -len(_SIGNER_SUFFIX)]
                for name in self.node.keystore.names()
                if name.endswith(_SIGNER_SUFFIX)
            ]
            candidates = {
                office: self.node.office_key(signer_key_name(office))
                for office in offices
                if wanted is None or office in wanted
            }
        keys: dict[str, OfficeKey] = {}
        for office, key in sorted(candidates.items()):
            if wanted is not None and office not in wanted:
                continue
            name = signer_key_name(office)
            code, active = self.node.ledger.office_of(key.address)
            if code != office or not active:
                logger.warning(
                    "key %s (%s) is not a signer of an active office %s on this chain; "
                    "not using it",
                    name,
                    key.address,
                    office,
                )
                continue
            keys[office] = key
        return keys

    # ---------------------------------------------------------------------- reads for the API

    def chain_head(self) -> int:
        """The chain's latest block number."""
        return self.node.backend.block_number()

    def offices(self) -> list[OfficeInfo]:
        """Member offices as the OfficeRegistry holds them (cached for a few seconds)."""
        cached = self._office_cache
        now = time.monotonic()
        if cached is not None and now - cached[0] < _OFFICE_CACHE_SECONDS:
            return cached[1]
        offices = self.governance.offices()
        self._office_cache = (now, offices)
        return offices

    def _forget_offices(self) -> None:
        """Drop the cached office list (a proposal just changed the consortium)."""
        self._office_cache = None

    def authenticate(self, token: str | None) -> str:
        """The office a bearer token acts for (:class:`~ipchain.errors.AuthenticationError`)."""
        with self.session_factory() as session:
            return authenticate(session, token)

    def create_token(self, office: str, label: str = "") -> str:
        """A new API token for ``office`` (shown once)."""
        with self.session_factory() as session:
            token = create_token(session, office, label=label)
            session.commit()
        return token

    # ---------------------------------------------------------------------- waiting

    def outbox_backlog(self) -> int:
        """Outbox rows not yet anchored or failed."""
        with self.session_factory() as session:
            count = session.scalar(
                select(func.count())
                .select_from(outbox)
                .where(outbox.c.state.in_((OutboxState.PENDING, OutboxState.SENT)))
            )
        return int(count or 0)

    def wait_until_idle(
        self, timeout: float = 600.0, progress: Callable[[int], None] | None = None
    ) -> None:
        """Wait until the outbox is drained and the index has caught up with the chain.

        ``progress`` is called with the remaining backlog on each poll."""
        deadline = time.monotonic() + timeout
        while True:
            backlog = self.outbox_backlog()
            if progress is not None:
                progress(backlog)
            if backlog == 0 and self.queries.indexed_block() >= self.indexer.target_block():
                return
            if time.monotonic() > deadline:
                raise ChainError(
                    f"not idle after {timeout:.0f} s: {backlog} events still in the outbox"
                )
            time.sleep(0.05)

    def wait_for_submission(
        self, office: str, submission_id: str, timeout: float = 120.0, *, indexed: bool = True
    ) -> SubmissionView:
        """Poll a submission until it failed, or is anchored (and indexed, unless
        ``indexed`` is false)."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.submissions.get(office, submission_id)
            if (
                view.status == "failed"
                or view.indexed
                or (view.status == "anchored" and not indexed)
            ):
                return view
            if time.monotonic() > deadline:
                raise ChainError(f"submission {submission_id} is still {view.status}")
            time.sleep(0.02)


# --- demo ------------------------------------------------------------------------------------


def node_handlers(backend: ChainBackend, deployment: Deployment) -> HandlerRegistry:
    """What a node's indexer follows: the register and governance (with attestations)."""
    handlers = register_handlers()
    register_governance_handlers(handlers, backend, deployment)
    return handlers


def load_demo_data(
    service: NodeService,
    *,
    offices: Iterable[str] | None = None,
    records_per_office: int = DEMO_RECORDS_PER_OFFICE,
    progress: Callable[[int, int], None] | None = None,
    timeout: float = 1_800.0,
) -> int:
    """Submit the demo data set through the :class:`SubmissionService` and wait until it is
    anchored and indexed. Does nothing on a node that already has records (returns 0).

    Submissions carry deterministic idempotency keys, so a load interrupted by a crash resumes
    where it stopped instead of submitting anything twice. ``progress(done, total)`` is called
    as events get anchored. Returns the number of demo events.
    """
    from ipchain.register.demo_data import generate_demo_events

    chosen = sorted(
        set(offices or (code for code, _ in DEMO_OFFICES)) & service.submissions.offices
    )
    if not chosen:
        return 0
    events = generate_demo_events(chosen, records_per_office)
    by_office: dict[str, list[dict[str, Any]]] = {office: [] for office in chosen}
    for event in events:
        by_office[str(event.record_key.office)].append(event.to_document())
    batches = [
        (office, start // DEMO_BATCH_EVENTS, documents[start : start + DEMO_BATCH_EVENTS])
        for office, documents in by_office.items()
        for start in range(0, len(documents), DEMO_BATCH_EVENTS)
    ]
    accepted = [
        service.submissions.find(office, _demo_key(office, number)) is not None
        for office, number, _ in batches
    ]
    if not any(accepted) and service.queries.office_stats():
        return 0  # a node with its own data: leave it alone
    total = len(events)
    watch = None if progress is None else (lambda backlog: progress(total - backlog, total))
    if all(accepted):  # loaded before; at most the anchoring of the last events was cut short
        service.wait_until_idle(timeout, progress=watch)
        return 0
    for (office, number, documents), done in zip(batches, accepted, strict=True):
        if not done:
            service.submissions.submit(office, documents, _demo_key(office, number))
    service.wait_until_idle(timeout, progress=watch)
    return total


def example_events(office: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A filing and a follow-up event document for a new record of ``office``, valid for the
    API (for the first-run examples): the demo generator's first record, renumbered."""
    from ipchain.register.demo_data import generate_demo_events

    events = generate_demo_events([office], 1)
    first = events[0].record_key
    documents = [event.to_document() for event in events if event.record_key == first][:2]
    number = f"{int(time.time()) % 10**9:09d}"
    key = f"{first.office}/{first.ip_type.value}/{number}"
    filing, follow_up = ({**document, "record_key": key} for document in documents)
    return filing, follow_up


def _demo_key(office: str, number: int) -> str:
    return f"ipchain-demo-{office}-{number}"
