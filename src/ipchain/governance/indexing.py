"""Following OfficeRegistry and AttestationRegistry into the governance index.

The handlers here turn the two contracts' logs into the rows of :mod:`ipchain.db.governance`:
offices (admission, every status change, admin key replacements and re-admissions, signer keys
added and revoked), proposals (created, each vote, execution), approved schemas, attestations
(issued, revoked, revoked with all of their issuer's by a consortium vote). They plug into the
indexer's handler API (:class:`ipchain.db.indexer.HandlerRegistry`) through
:func:`register_governance_handlers`; a node's indexer follows them beside the register's.

**Order.** The indexer hands each event's logs of a block range to its handler in one group,
groups one after the other, so within a range a ``SignerRevoked`` may reach its handler before
the ``SignerAdded`` of the same key (and likewise an execution before its proposal, a
revocation before its attestation). The handlers do not depend on that order: an update
whose row is not there yet waits in the session (:class:`_Pending`) and is applied by the
handler that inserts the row, in the same transaction; an office's status is re-derived from
its whole history each time a step of it is indexed, and its admin, name and profile from its
admin changes likewise.

**Terms.** As in OfficeRegistry, an office's term ends when it leaves Active or its admin key
is replaced; its votes cast before then stop counting (``proposal_votes.void_block``) and its
open proposals lapse (``proposals.lapsed_block``). A term's end marks the votes and proposals
indexed before it, and a vote or proposal indexed after the end that follows it (another group
of the same range) looks for that end itself.

**Reorgs.** :func:`remove_governance_above` drops every row from blocks above the fork and
undoes the updates made there (revocations, executions, votes, status changes).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Final

from eth_utils import to_checksum_address
from sqlalchemy import ColumnElement, Table, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from ipchain.chain.base import BlockInfo, ChainBackend
from ipchain.contracts.bindings import DecodedLog, Deployment, call_function, load_interface
from ipchain.contracts.office_registry import OfficeStatus, ProposalAction
from ipchain.db.governance import (
    OfficeAdminChangeText,
    OfficeStatusText,
    attestation_schemas,
    attestations,
    issuer_revocations,
    office_admin_changes,
    office_signers,
    office_status_history,
    offices,
    proposal_votes,
    proposals,
)
from ipchain.db.indexer import HandlerRegistry, LogHandler
from ipchain.encoding import ZERO_HASH
from ipchain.errors import ChainError

logger = logging.getLogger(__name__)

OFFICE_REGISTRY: Final = "OfficeRegistry"
ATTESTATION_REGISTRY: Final = "AttestationRegistry"

_PENDING_KEY: Final = "ipchain.governance.indexing.pending"


def action_text(action: ProposalAction) -> str:
    """How an action is written in the index and the API: ``admit-office``, ``add-signer``…"""
    return action.name.lower().replace("_", "-")


def status_text(status: OfficeStatus) -> str:
    """How a status is written in the index and the API: ``active``, ``suspended``…"""
    return status.name.lower()


@dataclass
class _Pending:
    """Updates whose row a later group of the same range inserts (see the module's docstring)."""

    signer_revocations: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Signer → (block, time) of its revocation."""
    executions: dict[int, tuple[int, int, bytes]] = field(default_factory=dict)
    """Proposal id → (block, time, transaction) of its execution."""
    attestation_revocations: dict[bytes, tuple[int, int, str]] = field(default_factory=dict)
    """Uid → (block, revokedAt, revoker)."""


def _pending(session: Session) -> _Pending:
    pending = session.info.get(_PENDING_KEY)
    if not isinstance(pending, _Pending):
        pending = session.info[_PENDING_KEY] = _Pending()
    return pending


def _exists(session: Session, table: Table, **key: Any) -> bool:
    statement = select(func.count()).select_from(table)
    for column, value in key.items():
        statement = statement.where(table.c[column] == value)
    return bool(session.scalar(statement))


def _insert_once(
    session: Session, table: Table, key: dict[str, Any], values: dict[str, Any]
) -> bool:
    """Insert a row unless one with ``key`` is there (another indexer of the same database
    got there first); returns whether it inserted."""
    if _exists(session, table, **key):
        return False
    session.execute(table.insert().values(**key, **values))
    return True


def _office_code(raw: bytes) -> str:
    return bytes(raw).decode("ascii")


# --- offices ---------------------------------------------------------------------------------


def _refresh_office_status(session: Session, code: str) -> None:
    """Set the office's current status from the latest step of its history."""
    latest = session.execute(
        select(
            office_status_history.c.status,
            office_status_history.c.block_number,
            office_status_history.c.block_timestamp,
        )
        .where(office_status_history.c.office == code)
        .order_by(
            office_status_history.c.block_number.desc(), office_status_history.c.log_index.desc()
        )
        .limit(1)
    ).first()
    if latest is None:
        return
    session.execute(
        update(offices)
        .where(offices.c.code == code)
        .values(
            status=latest.status,
            status_block=latest.block_number,
            status_changed_at=latest.block_timestamp,
        )
    )


def _history_step(
    session: Session, decoded: DecodedLog, block: BlockInfo, code: str, status: str, change: str
) -> None:
    _insert_once(
        session,
        office_status_history,
        {"block_number": block.number, "log_index": decoded.log.log_index},
        {
            "office": code,
            "status": status,
            "change": change,
            "block_timestamp": block.timestamp,
            "transaction_hash": decoded.log.transaction_hash,
        },
    )


def _after(table: Table, block_number: int, log_index: int) -> ColumnElement[bool]:
    """Rows of ``table`` whose log comes after position (block_number, log_index)."""
    return or_(
        table.c.block_number > block_number,
        and_(table.c.block_number == block_number, table.c.log_index > log_index),
    )


_TERM_ENDING_STATUSES: Final = (OfficeStatusText.SUSPENDED, OfficeStatusText.REMOVED)
_TERM_ENDING_CHANGES: Final = (
    OfficeAdminChangeText.ADMIN_REPLACED,
    OfficeAdminChangeText.READMITTED,
)


def _term_end_after(session: Session, code: str, block_number: int, log_index: int) -> int | None:
    """Block of the first end of ``code``'s term after a position, None if its term has not
    ended since (as far as indexed)."""
    ends = [
        session.scalar(
            select(func.min(office_status_history.c.block_number)).where(
                office_status_history.c.office == code,
                office_status_history.c.status.in_(_TERM_ENDING_STATUSES),
                _after(office_status_history, block_number, log_index),
            )
        ),
        session.scalar(
            select(func.min(office_admin_changes.c.block_number)).where(
                office_admin_changes.c.office == code,
                office_admin_changes.c.change.in_(_TERM_ENDING_CHANGES),
                _after(office_admin_changes, block_number, log_index),
            )
        ),
    ]
    found = [end for end in ends if end is not None]
    return min(found) if found else None


def _end_term(session: Session, code: str, block_number: int, log_index: int) -> None:
    """``code``'s term ended at this position: its earlier votes stop counting and its earlier
    proposals lapse."""
    before = or_(
        proposal_votes.c.block_number < block_number,
        and_(
            proposal_votes.c.block_number == block_number,
            proposal_votes.c.log_index < log_index,
        ),
    )
    touched = session.scalars(
        select(proposal_votes.c.proposal_id)
        .where(proposal_votes.c.voter == code, proposal_votes.c.void_block.is_(None), before)
        .distinct()
    ).all()
    session.execute(
        update(proposal_votes)
        .where(proposal_votes.c.voter == code, proposal_votes.c.void_block.is_(None), before)
        .values(void_block=block_number)
    )
    for proposal_id in touched:
        _count_votes(session, proposal_id)
    made_before = or_(
        proposals.c.created_block < block_number,
        and_(
            proposals.c.created_block == block_number,
            func.coalesce(proposals.c.created_log_index, -1) < log_index,
        ),
    )
    session.execute(
        update(proposals)
        .where(proposals.c.proposer == code, proposals.c.lapsed_block.is_(None), made_before)
        .values(lapsed_block=block_number)
    )


def _refresh_office_identity(session: Session, code: str) -> None:
    """Set the office's admin from its latest admin change, and its name and profile from the
    latest change that set them."""
    order = (office_admin_changes.c.block_number.desc(), office_admin_changes.c.log_index.desc())
    latest = session.execute(
        select(office_admin_changes.c.admin)
        .where(office_admin_changes.c.office == code)
        .order_by(*order)
        .limit(1)
    ).first()
    named = session.execute(
        select(office_admin_changes.c.name, office_admin_changes.c.profile_hash)
        .where(office_admin_changes.c.office == code, office_admin_changes.c.name.is_not(None))
        .order_by(*order)
        .limit(1)
    ).first()
    values: dict[str, Any] = {}
    if latest is not None:
        values["admin"] = latest.admin
    if named is not None:
        values["name"] = named.name
        if named.profile_hash is not None:
            values["profile_hash"] = named.profile_hash
    if values:
        session.execute(update(offices).where(offices.c.code == code).values(**values))


def _admin_change(
    session: Session,
    decoded: DecodedLog,
    block: BlockInfo,
    change: str,
    admin: str,
    name: str | None = None,
    profile_hash: bytes | None = None,
) -> str:
    code = _office_code(decoded.args["code"])
    _insert_once(
        session,
        office_admin_changes,
        {"office": code, "block_number": block.number, "log_index": decoded.log.log_index},
        {
            "change": change,
            "admin": admin,
            "name": name,
            "profile_hash": profile_hash,
            "block_timestamp": block.timestamp,
            "transaction_hash": decoded.log.transaction_hash,
        },
    )
    _refresh_office_identity(session, code)
    return code


def _office_admitted(session: Session, decoded: DecodedLog, block: BlockInfo) -> None:
    args = decoded.args
    code = _office_code(args["code"])
    _insert_once(
        session,
        offices,
        {"code": code},
        {
            "name": args["name"],
            "status": OfficeStatusText.ACTIVE,
            "admin": to_checksum_address(args["admin"]),
            "profile_hash": bytes(args["profileHash"]),
            "admitted_block": block.number,
            "admitted_at": block.timestamp,
            "status_block": block.number,
            "status_changed_at": block.timestamp,
        },
    )
    _history_step(session, decoded, block, code, OfficeStatusText.ACTIVE, "admitted")
    _refresh_office_status(session, code)
    _admin_change(
        session,
        decoded,
        block,
        OfficeAdminChangeText.ADMITTED,
        to_checksum_address(args["admin"]),
        args["name"],
        bytes(args["profileHash"]),
    )


def _office_readmitted(session: Session, decoded: DecodedLog, block: BlockInfo) -> None:
    args = decoded.args
    code = _admin_change(
        session,
        decoded,
        block,
        OfficeAdminChangeText.READMITTED,
        to_checksum_address(args["admin"]),
        args["name"],
        bytes(args["profileHash"]),
    )
    _end_term(session, code, block.number, decoded.log.log_index)


def _admin_replaced(session: Session, decoded: DecodedLog, block: BlockInfo) -> None:
    admin = to_checksum_address(decoded.args["newAdmin"])
    code = _admin_change(session, decoded, block, OfficeAdminChangeText.ADMIN_REPLACED, admin)
    _end_term(session, code, block.number, decoded.log.log_index)


def _office_status_changed(session: Session, decoded: DecodedLog, block: BlockInfo) -> None:
    code = _office_code(decoded.args["code"])
    status = status_text(OfficeStatus(decoded.args["status"]))
    _history_step(session, decoded, block, code, status, "status-changed")
    _refresh_office_status(session, code)
    if status in _TERM_ENDING_STATUSES:
        _end_term(session, code, block.number, decoded.log.log_index)


def _signer_added(session: Session, decoded: DecodedLog, block: BlockInfo) -> None:
    signer = to_checksum_address(decoded.args["signer"])
    _insert_once(
        session,
        office_signers,
        {"signer": signer},
        {
            "office": _office_code(decoded.args["code"]),
            "added_block": block.number,
            "added_at": block.timestamp,
        },
    )
    revocation = _pending(session).signer_revocations.pop(signer, None)
    if revocation is not None:
        _revoke_signer(session, signer, *revocation)


def _revoke_signer(session: Session, signer: str, block_number: int, timestamp: int) -> None:
    session.execute(
        update(office_signers)
        .where(office_signers.c.signer == signer, office_signers.c.revoked_block.is_(None))
        .values(revoked_block=block_number, revoked_at=timestamp)
    )


def _signer_revoked(session: Session, decoded: DecodedLog, block: BlockInfo) -> None:
    signer = to_checksum_address(decoded.args["signer"])
    if _exists(session, office_signers, signer=signer):
        _revoke_signer(session, signer, block.number, block.timestamp)
    else:
        _pending(session).signer_revocations[signer] = (block.number, block.timestamp)


# --- proposals -------------------------------------------------------------------------------


class _ProposalArguments:
    """Reads what ``ProposalCreated`` does not carry (the name or schema definition, and the
    data hash) from the registry: both are fixed when a proposal is made."""

    def __init__(self, backend: ChainBackend, deployment: Deployment) -> None:
        self.backend = backend
        self.interface = load_interface(OFFICE_REGISTRY)
        self.address = deployment.address(OFFICE_REGISTRY)

    def __call__(self, proposal_id: int) -> tuple[str, bytes, int | None]:
        """(name, data hash, threshold when proposed) of a proposal."""
        try:
            (raw,) = call_function(
                self.backend, self.interface, self.address, "proposal", proposal_id
            )
        except ChainError as error:
            # A chain that no longer has it (a reorg in progress): the next pass re-reads it.
            logger.warning("cannot read proposal %d from the registry: %s", proposal_id, error)
            return "", ZERO_HASH, None
        return str(raw[3]), bytes(raw[5]), int(raw[11])


def _proposal_created(arguments: _ProposalArguments) -> LogHandler:
    def handle(session: Session, decoded: DecodedLog, block: BlockInfo) -> None:
        args = decoded.args
        proposal_id = int(args["proposalId"])
        name, data_hash, threshold_bps = arguments(proposal_id)
        office = bytes(args["office"])
        account = to_checksum_address(args["account"])
        proposer = _office_code(args["proposer"])
        inserted = _insert_once(
            session,
            proposals,
            {"proposal_id": proposal_id},
            {
                "action": action_text(ProposalAction(args["action"])),
                "office": _office_code(office) if office != b"\0\0" else None,
                "account": account if int(account, 16) else None,
                "name": name,
                "value": str(int(args["value"])),
                "data_hash": data_hash,
                "proposer": proposer,
                "created_block": block.number,
                "created_at": block.timestamp,
                "created_log_index": decoded.log.log_index,
                "deadline": int(args["deadline"]),
                "threshold_bps": threshold_bps,
                "transaction_hash": decoded.log.transaction_hash,
                "votes": 0,
                "lapsed_block": _term_end_after(
                    session, proposer, block.number, decoded.log.log_index
                ),
            },
        )
        if inserted:
            _count_votes(session, proposal_id)
            execution = _pending(session).executions.pop(proposal_id, None)
            if execution is not None:
                _mark_executed(session, proposal_id, *execution)

    return handle


def _count_votes(session: Session, proposal_id: int) -> None:
    count = (
        select(func.count())
        .select_from(proposal_votes)
        .where(proposal_votes.c.proposal_id == proposal_id, proposal_votes.c.void_block.is_(None))
        .scalar_subquery()
    )
    session.execute(
        update(proposals).where(proposals.c.proposal_id == proposal_id).values(votes=count)
    )


def _proposal_voted(session: Session, decoded: DecodedLog, block: BlockInfo) -> None:
    proposal_id = int(decoded.args["proposalId"])
    voter = _office_code(decoded.args["voter"])
    _insert_once(
        session,
        proposal_votes,
        {"block_number": block.number, "log_index": decoded.log.log_index},
        {
            "proposal_id": proposal_id,
            "voter": voter,
            "votes_after": int(decoded.args["votes"]),
            "block_timestamp": block.timestamp,
            "transaction_hash": decoded.log.transaction_hash,
            "void_block": _term_end_after(session, voter, block.number, decoded.log.log_index),
        },
    )
    _count_votes(session, proposal_id)


def _mark_executed(
    session: Session, proposal_id: int, block_number: int, timestamp: int, transaction: bytes
) -> None:
    session.execute(
        update(proposals)
        .where(proposals.c.proposal_id == proposal_id)
        .values(
            executed_block=block_number,
            executed_at=timestamp,
            executed_transaction_hash=transaction,
        )
    )


def _proposal_executed(session: Session, decoded: DecodedLog, block: BlockInfo) -> None:
    proposal_id = int(decoded.args["proposalId"])
    execution = (block.number, block.timestamp, decoded.log.transaction_hash)
    if _exists(session, proposals, proposal_id=proposal_id):
        _mark_executed(session, proposal_id, *execution)
    else:
        _pending(session).executions[proposal_id] = execution


def schema_name(definition: str) -> str:
    """The ``schema`` name inside an ipchain schema definition ("" for other definitions)."""
    try:
        document = json.loads(definition)
    except ValueError:
        return ""
    name = document.get("schema") if isinstance(document, dict) else None
    return name[:200] if isinstance(name, str) else ""


def _schema_approved(session: Session, decoded: DecodedLog, block: BlockInfo) -> None:
    definition = str(decoded.args["definition"])
    _insert_once(
        session,
        attestation_schemas,
        {"schema_uid": bytes(decoded.args["schemaUid"])},
        {
            "name": schema_name(definition),
            "definition": definition,
            "approved_block": block.number,
            "approved_at": block.timestamp,
        },
    )


# --- attestations ----------------------------------------------------------------------------


def _attested(session: Session, decoded: DecodedLog, block: BlockInfo) -> None:
    args = decoded.args
    uid = bytes(args["uid"])
    ref_uid = bytes(args["refUid"])
    _insert_once(
        session,
        attestations,
        {"uid": uid},
        {
            "schema_uid": bytes(args["schema"]),
            "issuer_office": _office_code(args["issuerOffice"]),
            "subject": bytes(args["subject"]),
            "claim_hash": bytes(args["claimHash"]),
            "expires_at": int(args["expiresAt"]) or None,
            "ref_uid": ref_uid if ref_uid != ZERO_HASH else None,
            "attester": to_checksum_address(args["attester"]),
            "issued_block": block.number,
            "issued_at": block.timestamp,
            "log_index": decoded.log.log_index,
            "transaction_hash": decoded.log.transaction_hash,
        },
    )
    revocation = _pending(session).attestation_revocations.pop(uid, None)
    if revocation is not None:
        _revoke_attestation(session, uid, *revocation)
    # A consortium decision on its issuer's attestations indexed before it (another group).
    decision = session.execute(
        select(
            issuer_revocations.c.block_number,
            issuer_revocations.c.revoked_at,
            issuer_revocations.c.revoker,
        )
        .where(
            issuer_revocations.c.issuer_office == _office_code(args["issuerOffice"]),
            issuer_revocations.c.issued_since <= block.timestamp,
            issuer_revocations.c.revoked_at >= block.timestamp,
        )
        .order_by(issuer_revocations.c.revoked_at)
        .limit(1)
    ).first()
    if decision is not None:
        _revoke_attestation(
            session, uid, decision.block_number, decision.revoked_at, decision.revoker
        )


def _revoke_attestation(
    session: Session, uid: bytes, block_number: int, revoked_at: int, revoker: str
) -> None:
    session.execute(
        update(attestations)
        .where(attestations.c.uid == uid, attestations.c.revoked_block.is_(None))
        .values(revoked_block=block_number, revoked_at=revoked_at, revoker=revoker)
    )


def _revoked(session: Session, decoded: DecodedLog, block: BlockInfo) -> None:
    uid = bytes(decoded.args["uid"])
    revocation = (
        block.number,
        int(decoded.args["revokedAt"]),
        to_checksum_address(decoded.args["revoker"]),
    )
    if _exists(session, attestations, uid=uid):
        _revoke_attestation(session, uid, *revocation)
    else:
        _pending(session).attestation_revocations[uid] = revocation


def _issuer_attestations_revoked(registry_address: str) -> LogHandler:
    def handle(session: Session, decoded: DecodedLog, block: BlockInfo) -> None:
        args = decoded.args
        code = _office_code(args["issuerOffice"])
        since, revoked_at = int(args["issuedSince"]), int(args["revokedAt"])
        _insert_once(
            session,
            issuer_revocations,
            {"block_number": block.number, "log_index": decoded.log.log_index},
            {
                "issuer_office": code,
                "issued_since": since,
                "revoked_at": revoked_at,
                "revoker": registry_address,
                "transaction_hash": decoded.log.transaction_hash,
            },
        )
        session.execute(
            update(attestations)
            .where(
                attestations.c.issuer_office == code,
                attestations.c.issued_at >= since,
                attestations.c.issued_at <= revoked_at,
                attestations.c.revoked_block.is_(None),
            )
            .values(revoked_block=block.number, revoked_at=revoked_at, revoker=registry_address)
        )

    return handle


# --- reorgs ----------------------------------------------------------------------------------


def remove_governance_above(session: Session, block_number: int) -> None:
    """Undo everything the blocks above ``block_number`` did to the governance index."""
    above = block_number
    session.execute(
        delete(office_status_history).where(office_status_history.c.block_number > above)
    )
    session.execute(delete(offices).where(offices.c.admitted_block > above))
    session.execute(delete(office_signers).where(office_signers.c.added_block > above))
    session.execute(
        update(office_signers)
        .where(office_signers.c.revoked_block > above)
        .values(revoked_block=None, revoked_at=None)
    )
    session.execute(delete(proposal_votes).where(proposal_votes.c.block_number > above))
    session.execute(
        update(proposal_votes).where(proposal_votes.c.void_block > above).values(void_block=None)
    )
    session.execute(delete(proposals).where(proposals.c.created_block > above))
    session.execute(
        update(proposals).where(proposals.c.lapsed_block > above).values(lapsed_block=None)
    )
    session.execute(
        update(proposals)
        .where(proposals.c.executed_block > above)
        .values(executed_block=None, executed_at=None, executed_transaction_hash=None)
    )
    count = (
        select(func.count())
        .select_from(proposal_votes)
        .where(
            proposal_votes.c.proposal_id == proposals.c.proposal_id,
            proposal_votes.c.void_block.is_(None),
        )
        .scalar_subquery()
    )
    session.execute(update(proposals).values(votes=count))
    session.execute(delete(attestation_schemas).where(attestation_schemas.c.approved_block > above))
    session.execute(delete(attestations).where(attestations.c.issued_block > above))
    session.execute(
        update(attestations)
        .where(attestations.c.revoked_block > above)
        .values(revoked_block=None, revoked_at=None, revoker=None)
    )
    session.execute(delete(office_admin_changes).where(office_admin_changes.c.block_number > above))
    session.execute(delete(issuer_revocations).where(issuer_revocations.c.block_number > above))
    for code in session.scalars(select(offices.c.code)).all():
        _refresh_office_status(session, code)
        _refresh_office_identity(session, code)


# --- registration ----------------------------------------------------------------------------


def register_governance_handlers(
    registry: HandlerRegistry, backend: ChainBackend, deployment: Deployment
) -> None:
    """Follow OfficeRegistry's and AttestationRegistry's events into ``registry``'s indexers.

    ``backend`` and ``deployment`` let the proposal handler read the arguments
    ``ProposalCreated`` does not carry."""
    registry.register(OFFICE_REGISTRY, "OfficeAdmitted", _office_admitted)
    registry.register(OFFICE_REGISTRY, "OfficeStatusChanged", _office_status_changed)
    registry.register(OFFICE_REGISTRY, "OfficeReadmitted", _office_readmitted)
    registry.register(OFFICE_REGISTRY, "AdminReplaced", _admin_replaced)
    registry.register(OFFICE_REGISTRY, "SignerAdded", _signer_added)
    registry.register(OFFICE_REGISTRY, "SignerRevoked", _signer_revoked)
    registry.register(OFFICE_REGISTRY, "SchemaApproved", _schema_approved)
    registry.register(
        OFFICE_REGISTRY,
        "ProposalCreated",
        _proposal_created(_ProposalArguments(backend, deployment)),
    )
    registry.register(OFFICE_REGISTRY, "ProposalVoted", _proposal_voted)
    registry.register(OFFICE_REGISTRY, "ProposalExecuted", _proposal_executed)
    registry.register(ATTESTATION_REGISTRY, "Attested", _attested)
    registry.register(ATTESTATION_REGISTRY, "Revoked", _revoked)
    registry.register(
        ATTESTATION_REGISTRY,
        "IssuerAttestationsRevoked",
        _issuer_attestations_revoked(deployment.address(OFFICE_REGISTRY)),
    )
    registry.register_rollback(remove_governance_above)


__all__ = [
    "ATTESTATION_REGISTRY",
    "OFFICE_REGISTRY",
    "action_text",
    "register_governance_handlers",
    "remove_governance_above",
    "schema_name",
    "status_text",
]
