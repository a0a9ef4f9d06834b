"""A running ipchain node: chain, index, submissions, the submitter and indexer threads.

:class:`NodeService` composes the pieces one office's node runs: the open
:class:`~ipchain.node.setup.Node` (chain connection, deployment, keystore), the index database
(migrated at start), the read service (:class:`~ipchain.register.queries.RegisterQueries`), the
write service (:class:`~ipchain.register.submissions.SubmissionService`), and two background
threads: the :class:`~ipchain.register.submitter.Submitter` anchoring the outbox and the
:class:`~ipchain.db.indexer.Indexer` reading the chain into the index. :func:`load_demo_data`
fills a new node with the workshop data set. Serving the HTTP API over it (``ipchain serve``)
is ``api.server``'s.

**Health.** The process that runs the submitter and the indexer (the writer process of
``ipchain serve``) keeps their state — running, or failing since when and why — in a
:class:`WriterState` and publishes it to ``run/writer-state.json`` in the data directory,
where the API processes read it (:meth:`NodeService.health`). The file is allocated once, at a
fixed size, and then overwritten in place: a status row in the index database, or a new file
renamed over the old one, would need free space exactly when a full disk is what there is to
report. The writer rewrites it every second (a heartbeat); a state older than
:data:`STALE_SECONDS` means the writer is not running. While anchoring is stopped — the chain
refusing to mine, a full disk, a database or chain node that does not answer, no writer —
:class:`SubmissionService` refuses new submissions with :class:`AnchoringStoppedError` (HTTP
``503`` with ``Retry-After``); it takes them again by itself once a round succeeds.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ipchain.chain.base import ChainBackend
from ipchain.config import DEMO_OFFICES, Settings
from ipchain.contracts.bindings import Deployment
from ipchain.contracts.office_registry import Governance, OfficeInfo, OfficeStatus
from ipchain.db.base import (
    describe_error,
    is_storage_fault,
    make_engine,
    session_factory,
    upgrade,
)
from ipchain.db.indexer import HandlerRegistry, Indexer
from ipchain.db.register import event_flags, quarantined_events
from ipchain.db.submissions import OutboxState, outbox
from ipchain.encoding import canonical_bytes, document_hash
from ipchain.errors import ChainError, ChainUnavailableError
from ipchain.governance.actions import GovernanceActions
from ipchain.governance.indexing import register_governance_handlers
from ipchain.governance.queries import GovernanceQueries
from ipchain.keys import OfficeKey, signer_key_name
from ipchain.node.imports import ImportJobs
from ipchain.node.setup import Node
from ipchain.node.tokens import authenticate, create_token
from ipchain.register.indexing import register_handlers
from ipchain.register.ledger import DEFAULT_BATCH_SIZE, EventToAnchor
from ipchain.register.links import LinkChecker, LinkCheckError
from ipchain.register.models import SCHEMA, RegisterEvent
from ipchain.register.queries import RegisterQueries
from ipchain.register.submissions import LinkCheckFunction, SubmissionService, SubmissionView
from ipchain.register.submitter import Submitter
from ipchain.verification import Verifier

logger = logging.getLogger("ipchain.node.service")

DEMO_RECORDS_PER_OFFICE: Final = 100
"""Records per demo office: with their histories, about 1,500 events for three offices."""

DEMO_BATCH_EVENTS: Final = 2_000
"""Events per submission when loading the demo data."""

_SIGNER_SUFFIX: Final = "-signer"
_OFFICE_CACHE_SECONDS: Final = 5.0

WRITER_STATE_FILE: Final = "writer-state.json"
"""The writer's published state, in the data directory's ``run/`` folder."""

HEARTBEAT_SECONDS: Final = 1.0
"""How often the writer rewrites its state (at once, too, when it changes)."""

STALE_SECONDS: Final = 15.0
"""A published state older than this means the writer process is not running."""

_STATE_FILE_SIZE: Final = 4096
_STATE_READ_SECONDS: Final = 0.5  # an API process reads the file at most this often


class AnchoringStoppedError(ChainUnavailableError):
    """The node cannot anchor now (its chain refuses to mine, a full disk, a database or a
    chain node that does not answer): a submission accepted now would wait; retry later."""

    code = "anchoring-stopped"


# --- the writer's state ----------------------------------------------------------------------


@dataclass(slots=True)
class _Component:
    failing_since: float | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.failing_since is None, "since": self.failing_since, "error": self.error}


class WriterState:
    """What the submitter and the indexer are doing: running, or failing since when and why.
    Kept by the process that runs them; :class:`StatePublisher` makes it visible to the
    node's other processes."""

    COMPONENTS: Final = ("anchoring", "indexing")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._components = {name: _Component() for name in self.COMPONENTS}
        self.changed = threading.Event()
        """Set whenever a component starts or stops failing (the publisher waits on it)."""
        self.stopped = False

    def failed(self, component: str, error: BaseException) -> None:
        """``component`` failed with ``error`` (and keeps failing until :meth:`succeeded`)."""
        with self._lock:
            state = self._components[component]
            if state.failing_since is None:
                state.failing_since = time.time()
                self.changed.set()
            described = describe_error(error)
            if described != state.error:
                state.error = described
                self.changed.set()

    def succeeded(self, component: str) -> None:
        """``component`` did a round of work without failing."""
        with self._lock:
            state = self._components[component]
            if state.failing_since is not None:
                state.failing_since = None
                state.error = None
                self.changed.set()

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "format": "ipchain-writer-state/1",
                "pid": os.getpid(),
                "updated": time.time(),
                "stopped": self.stopped,
                **{name: state.to_json() for name, state in self._components.items()},
            }


class StatePublisher:
    """Writes a :class:`WriterState` to a file every :data:`HEARTBEAT_SECONDS` and at once when
    it changes. The file is allocated at its full size when the publisher starts and then
    overwritten in place, so that publishing never needs free space (a reader that catches a
    write halfway sees invalid JSON and reads again)."""

    def __init__(self, state: WriterState, path: Path) -> None:
        self.state = state
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        os.pwrite(self._descriptor, b" " * (_STATE_FILE_SIZE - 1) + b"\n", 0)
        self._stop = threading.Event()
        self._failed = False
        self.publish()
        self._thread = threading.Thread(target=self._run, name="ipchain-state", daemon=True)
        self._thread.start()

    def publish(self) -> None:
        """Write the state now."""
        payload = json.dumps(self.state.to_json()).encode()
        if len(payload) >= _STATE_FILE_SIZE:  # errors are cut short, so this never happens
            payload = b'{"format": "ipchain-writer-state/1", "stopped": false}'
        try:
            os.pwrite(self._descriptor, payload.ljust(_STATE_FILE_SIZE - 1) + b"\n", 0)
            self._failed = False
        except OSError as error:
            if not self._failed:
                logger.warning("cannot publish the writer's state to %s: %s", self.path, error)
            self._failed = True

    def _run(self) -> None:
        while not self._stop.is_set():
            self.state.changed.wait(HEARTBEAT_SECONDS)
            self.state.changed.clear()
            self.publish()

    def close(self) -> None:
        """Publish the state one last time as stopped, and stop."""
        self._stop.set()
        self.state.changed.set()
        self._thread.join(timeout=10)
        self.state.stopped = True
        self.publish()
        os.close(self._descriptor)


def read_writer_state(path: Path) -> dict[str, Any] | None:
    """The state a writer published at ``path``; None when there is none (no writer has run
    with this data directory, or the file cannot be read)."""
    for _ in range(3):
        try:
            with path.open("rb") as handle:
                raw = handle.read(_STATE_FILE_SIZE)
        except OSError:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            time.sleep(0.001)  # caught halfway through a rewrite
            continue
        return value if isinstance(value, dict) else None
    return None


@dataclass(frozen=True, slots=True)
class NodeHealth:
    """How the node is: ``ok``, ``degraded`` (working, but something needs a look) or
    ``unavailable`` (anchoring or indexing stopped), with why."""

    status: str
    """``ok``, ``degraded`` or ``unavailable``."""
    reasons: tuple[str, ...]
    """Why it is not ``ok``, one line each."""
    anchoring: str
    """``running``, ``stopped`` or ``unknown`` (no writer state to read)."""
    indexing: str
    """``running``, ``stopped`` or ``unknown``."""
    chain_id: int
    """The chain's id."""
    chain_head: int | None
    """The chain's latest block (None when the chain does not answer)."""
    indexed_block: int | None
    """The last block fully indexed (None when the index cannot be read)."""
    outbox_backlog: int | None
    """Outbox rows not yet anchored or failed."""
    quarantined_events: int | None
    """Chain logs the indexer could not parse or store (kept raw, left out of the index)."""
    flagged_events: int | None
    """Indexed events with a flag (odd, e.g. an event code this node does not know)."""
    signing_offices: tuple[str, ...] = field(default_factory=tuple)
    """Offices this node anchors events for."""


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
    publish_state: bool = False
    """Publish the submitter's and indexer's state to ``run/writer-state.json`` for the
    node's other processes (the writer process does)."""


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
        self.writer_state = WriterState()
        """The submitter's and the indexer's state, when this process runs them."""
        self._publisher: StatePublisher | None = None
        self._published: tuple[float, dict[str, Any] | None] = (0.0, None)
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
            self.submissions = _GuardedSubmissions(
                self.session_factory,
                offices=offices,
                indexed_block=self.queries.indexed_block,
                on_accepted=self.submitter.wake,
                anchoring_stopped=self.anchoring_stopped,
                check_links=self._link_checker().check_json,
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
        self._watch(self.submitter, "anchoring")
        self._watch(self.indexer, "indexing")
        if self.options.publish_state:
            self._publisher = StatePublisher(self.writer_state, self.writer_state_file)
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
        if self.options.run_submitter:
            # Import jobs run where the signer keys are: beside the submitter.
            self._spawn(
                "ipchain-imports", self.import_jobs.run_forever, self.submissions, self._stop
            )
        self._started = True
        return self

    @property
    def import_jobs(self) -> ImportJobs:
        """The node's import jobs (uploaded register files)."""
        return ImportJobs(self.settings.data_dir / "imports")

    def stop(self) -> None:
        """Stop the threads (finishing the round in progress), close the chain and the index."""
        if not self._started:
            return
        self._stop.set()
        self.submitter.wake()
        for thread in self._threads:
            thread.join(timeout=120)
        self._threads.clear()
        if self._publisher is not None:
            self._publisher.close()
            self._publisher = None
        self.node.close()
        self.engine.dispose()
        self._started = False

    def __enter__(self) -> NodeService:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _watch(self, worker: Submitter | Indexer, component: str) -> None:
        """Report ``worker``'s failures and successes to the writer state."""
        state = self.writer_state

        def failed(error: BaseException) -> None:
            state.failed(component, error)

        def succeeded() -> None:
            state.succeeded(component)

        worker.on_failure = failed
        worker.on_success = succeeded

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

    def _link_checker(self) -> LinkChecker:
        def members() -> frozenset[str]:
            return frozenset(
                office.code for office in self.offices() if office.status is OfficeStatus.ACTIVE
            )

        return LinkChecker(self.queries, members)

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

    # ---------------------------------------------------------------------- health

    @property
    def writer_state_file(self) -> Path:
        """Where the writer process publishes its state."""
        return self.settings.data_dir / "run" / WRITER_STATE_FILE

    def _component_states(self) -> dict[str, tuple[str, str | None]]:
        """(``running``/``stopped``/``unknown``, why stopped) of anchoring and indexing: this
        process's own state for what it runs, the writer's published state for the rest."""
        local = self.writer_state.to_json()
        runs = {"anchoring": self.options.run_submitter, "indexing": self.options.run_indexer}
        published = None if all(runs.values()) else self._writer_published()
        states: dict[str, tuple[str, str | None]] = {}
        for component, here in runs.items():
            if here:
                states[component] = _component_state(local[component])
            elif published is None:
                states[component] = ("unknown", None)
            else:
                states[component] = _published_state(published, component)
        fault = getattr(self.node.backend, "storage_fault", None)
        if isinstance(fault, str) and self.options.run_submitter:
            states["anchoring"] = ("stopped", f"the chain cannot store blocks: {fault}")
        return states

    def _writer_published(self) -> dict[str, Any] | None:
        read_at, value = self._published
        now = time.monotonic()
        if now - read_at >= _STATE_READ_SECONDS:
            value = read_writer_state(self.writer_state_file)
            self._published = (now, value)
        return value

    def anchoring_stopped(self) -> str | None:
        """Why the node cannot anchor now, or None (running, or no writer state to read)."""
        status, why = self._component_states()["anchoring"]
        return why if status == "stopped" else None

    def health(self) -> NodeHealth:
        """How the node is, from the writer's state, the chain and the index."""
        reasons: list[str] = []
        states = self._component_states()
        for component, (status, why) in states.items():
            if status == "stopped":
                reasons.append(f"{component} stopped: {why}")
        head: int | None = None
        try:
            head = self.node.backend.block_number_within(_HEALTH_CHAIN_SECONDS)
        except ChainError as error:
            reasons.append(f"the chain does not answer: {error}")
        counts: list[int | None] = [None, None, None, None]
        try:
            with self.session_factory() as session:
                counts = [
                    self.queries.indexed_block(),
                    self.outbox_backlog(),
                    int(session.scalar(select(func.count()).select_from(quarantined_events)) or 0),
                    int(
                        session.scalar(select(func.count(func.distinct(event_flags.c.entry_hash))))
                        or 0
                    ),
                ]
        except Exception as error:
            if not is_storage_fault(error):
                raise
            reasons.append(f"the index database cannot be read: {describe_error(error)}")
        indexed, backlog, quarantined, flagged = counts
        status = "unavailable" if reasons else "ok"
        if quarantined:
            reasons.append(
                f"{quarantined} chain events quarantined (the index could not parse or store "
                "them; the audit names them)"
            )
            status = "degraded" if status == "ok" else status
        return NodeHealth(
            status=status,
            reasons=tuple(reasons),
            anchoring=states["anchoring"][0],
            indexing=states["indexing"][0],
            chain_id=self.node.backend.chain_id,
            chain_head=head,
            indexed_block=indexed,
            outbox_backlog=backlog,
            quarantined_events=quarantined,
            flagged_events=flagged,
            signing_offices=tuple(sorted(self.submissions.offices)),
        )

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


def _component_state(state: Mapping[str, Any]) -> tuple[str, str | None]:
    if state.get("ok", True):
        return "running", None
    since = state.get("since")
    when = ""
    if isinstance(since, int | float):
        when = f" since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(since))}"
    return "stopped", f"{state.get('error') or 'failing'}{when}"


def _published_state(published: Mapping[str, Any], component: str) -> tuple[str, str | None]:
    """A component's state from a writer's published state, or ``stopped`` when the writer
    stopped or has not reported for :data:`STALE_SECONDS`."""
    if published.get("stopped") is True:
        return "stopped", "the writer process is not running"
    updated = published.get("updated")
    age = time.time() - updated if isinstance(updated, int | float) else float("inf")
    if age > STALE_SECONDS:
        return "stopped", f"the writer process has not reported for {age:.0f} s"
    state = published.get(component)
    return _component_state(state) if isinstance(state, dict) else ("unknown", None)


class _GuardedSubmissions(SubmissionService):
    """The submission service, refusing new submissions while anchoring is stopped (and when
    the outbox itself cannot be written: a full disk, a database that does not answer) with
    :class:`AnchoringStoppedError`."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        offices: Iterable[str],
        indexed_block: Callable[[], int],
        on_accepted: Callable[[], None] | None = None,
        anchoring_stopped: Callable[[], str | None],
        check_links: LinkCheckFunction | None = None,
    ) -> None:
        super().__init__(
            session_factory,
            offices=offices,
            indexed_block=indexed_block,
            on_accepted=on_accepted,
            check_links=check_links,
        )
        self._anchoring_stopped = anchoring_stopped

    def submit(
        self,
        office: str,
        documents: Sequence[Any],
        idempotency_key: str | None = None,
        *,
        batch: bool = True,
    ) -> SubmissionView:
        why = self._anchoring_stopped()
        if why is not None:
            raise AnchoringStoppedError(
                f"the node takes no new submissions while anchoring is stopped ({why}); retry later"
            )
        try:
            return super().submit(office, documents, idempotency_key, batch=batch)
        except Exception as error:
            if not is_storage_fault(error) or isinstance(error, ChainError):
                raise
            raise AnchoringStoppedError(
                f"the node cannot write its outbox now ({describe_error(error)}); retry later"
            ) from None


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
    waiting = deque(batch for batch, done in zip(batches, accepted, strict=True) if not done)
    deadline = time.monotonic() + timeout
    deferred_since_progress = 0
    while waiting:
        office, number, documents = waiting.popleft()
        try:
            service.submissions.submit(office, documents, _demo_key(office, number))
            deferred_since_progress = 0
        except LinkCheckError as error:
            # A priority claim on a record not anchored yet: its batch comes later in this
            # loop, is still in the outbox, or (in a network) is another office node's to
            # anchor. Let the chain catch up, and try again after the other batches.
            if error.result != "link-target-missing" or time.monotonic() > deadline:
                raise
            waiting.append((office, number, documents))
            deferred_since_progress += 1
            if deferred_since_progress == 1:
                service.wait_until_idle(timeout, progress=watch)
            elif deferred_since_progress > len(waiting):
                time.sleep(1.0)  # only other nodes can make progress now
                deferred_since_progress = 0
    service.wait_until_idle(timeout, progress=watch)
    if {"AU", "EM"} <= set(chosen):
        total += _anchor_bad_claims(service)
    return total


_HEALTH_CHAIN_SECONDS: Final = 2.0
"""How long /health waits for the chain: it must answer while the chain does not."""

_BAD_CLAIMS: Final = (
    ("EM/TM/019900001", "the claimed date is a day off", 1, 120),
    ("EM/TM/019900002", "filed nine months after the first filing", 0, 270),
)
"""Demo priority claims no node would accept — (record key, why, days added to the claimed
date, days from the first filing to the claim) — anchored straight to the chain with EM's own
signer key, as a buggy or rogue node could: verification shows what is wrong with them."""


def _anchor_bad_claims(service: NodeService) -> int:
    from ipchain.register.queries import RecordFilter

    firsts = service.queries.search_records(
        RecordFilter(office="AU", ip_type="TM", status="registered"), limit=len(_BAD_CLAIMS)
    ).items
    events = []
    for (key, why, date_offset, delay), first in zip(_BAD_CLAIMS, firsts, strict=False):
        if first.filing_date is None or service.queries.has_record(key):
            continue
        filed = first.filing_date + datetime.timedelta(days=delay)
        data = dict(first.data)
        data["application_date"] = filed.isoformat()
        for drop in ("registration_date", "registration_number", "expiry_date"):
            data.pop(drop, None)
        document = {
            "schema": SCHEMA,
            "record_key": key,
            "event_code": "A10",
            "event_date": filed.isoformat(),
            "record_data": data,
            "national_text": f"Demo: a priority claim that fails its check ({why})",
            "links": [
                {
                    "relation": "priority",
                    "record_key": first.record_key,
                    "link_date": (
                        first.filing_date + datetime.timedelta(days=date_offset)
                    ).isoformat(),
                }
            ],
        }
        RegisterEvent.from_document(document)  # a valid document; only its claim is wrong
        events.append(EventToAnchor(key, "A10", document_hash(document), canonical_bytes(document)))
    if events:
        service.node.ledger.anchor(service._signer_key("EM"), events)
        service.indexer.run_once()
    return len(events)


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
