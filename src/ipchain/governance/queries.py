"""The read service of governance and attestations: what the API shows, read from the index.

Like :mod:`ipchain.register.queries` for the register, :class:`GovernanceQueries` reads only the
index the indexer keeps (:mod:`ipchain.db.governance`) and returns frozen dataclasses of plain
values (hashes as ``0x`` hex, times as UTC datetimes). Questions about *now* — is a proposal
still open, is an attestation valid — take the moment to judge at from the caller (the
chain's latest block time), since the index knows only the blocks it has read.

An attestation's validity follows AttestationRegistry's ``validityAt`` rule: issued, not
revoked (by its issuer or by a consortium vote) and not expired at the moment asked about, its
issuer's membership under which it was issued not ended by a removal by then, and its issuer
Active then. Asked at a **block**, issuance, revocation and the issuer's status changes are
judged by block number (two blocks may share a timestamp) and expiry by the block's time, as
:meth:`ipchain.attestations.Attestations.status_at` does on-chain.

A proposal's votes are those that count: an office's vote stops counting when its term ends
(it leaves Active or its admin key is replaced), and a proposal whose proposer's term ended is
``lapsed``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, Row, func, select
from sqlalchemy.orm import Session, sessionmaker

from ipchain.attestations import (
    OFFICE_CERTIFICATE_SCHEMA,
    STANDARD_SCHEMAS,
    AttestationStatus,
    account_subject,
    office_certificate_claim,
    office_subject,
    party_subject,
)
from ipchain.db.base import IMMEDIATE
from ipchain.db.governance import (
    OfficeStatusText,
    attestation_documents,
    attestation_schemas,
    attestations,
    office_signers,
    office_status_history,
    offices,
    proposal_votes,
    proposals,
)
from ipchain.encoding import document_hash
from ipchain.errors import InvalidInputError, NotFoundError, UnknownSchemaError
from ipchain.register.queries import MAX_LIMIT, MAX_OFFSET, Page

PROPOSAL_STATES: Final = ("open", "executed", "expired", "lapsed")
"""States :meth:`GovernanceQueries.proposals` filters by."""

_OFFICE_CODE = re.compile(r"[A-Z]{2}")
_HASH_HEX = re.compile(r"0x[0-9a-fA-F]{64}")
_ADDRESS_HEX = re.compile(r"0x[0-9a-fA-F]{40}")
_STANDARD_NAMES: Final = {schema.uid: schema.name for schema in STANDARD_SCHEMAS}


def _time(timestamp: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC)


def _utc(timestamp: int | None) -> datetime.datetime | None:
    return None if timestamp is None else _time(timestamp)


def _hex(digest: bytes | None) -> str | None:
    return None if digest is None else "0x" + bytes(digest).hex()


def parse_hash(text: str, field: str) -> bytes:
    """A 32-byte value written ``0x`` + 64 hex digits (uids, subjects)."""
    if not isinstance(text, str) or _HASH_HEX.fullmatch(text) is None:
        raise InvalidInputError(f"{field} must be 0x and 64 hex digits", field=field)
    return bytes.fromhex(text[2:])


def parse_subject(text: str) -> bytes:
    """An attestation subject as a query names it: 32 bytes in hex, an account address, or an
    office's ST.3 code (a party's identifier goes through :func:`party_subject` instead)."""
    if _HASH_HEX.fullmatch(text):
        return bytes.fromhex(text[2:])
    if _ADDRESS_HEX.fullmatch(text):
        return account_subject(text)
    if _OFFICE_CODE.fullmatch(text):
        return office_subject(text)
    raise InvalidInputError(
        "subject must be 0x + 64 hex digits, an account address or an ST.3 office code",
        field="subject",
    )


def _check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be 1 to {MAX_LIMIT}", field="limit")
    if not 0 <= offset <= MAX_OFFSET:  # offset >= 2^63 once failed in the database
        raise InvalidInputError(f"offset must be 0 to {MAX_OFFSET}", field="offset")


def _check_office(code: str, field: str) -> None:
    if _OFFICE_CODE.fullmatch(code) is None:
        raise InvalidInputError(f"{field} must be two upper-case letters (WIPO ST.3)", field=field)


# --- views -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusChangeView:
    """One step of an office's history."""

    status: str
    """``active``, ``suspended`` or ``removed`` from this step on."""
    change: str
    """``admitted`` or ``status-changed``."""
    block_number: int
    """Block of the change."""
    changed_at: datetime.datetime
    """Block time, UTC."""
    transaction_hash: str
    """Transaction of the change."""
    proposal_id: int | None
    """The proposal whose execution made it (None for a founding office's admission)."""


@dataclass(frozen=True, slots=True)
class SignerView:
    """A signer key of an office, current or revoked."""

    account: str
    """The key's account."""
    added_block: int
    """Block it was added in."""
    added_at: datetime.datetime
    """That block's time."""
    revoked_block: int | None
    """Block it was revoked in (None while current)."""
    revoked_at: datetime.datetime | None
    """That block's time."""


@dataclass(frozen=True, slots=True)
class IssuerStep:
    """One step of an attestation issuer's status history, where it was logged."""

    status: str
    """``active``, ``suspended`` or ``removed`` from this step on."""
    block_number: int
    """Block of the step."""
    log_index: int
    """Position of its log in the block."""
    timestamp: int
    """Block time."""


@dataclass(frozen=True, slots=True)
class AttestationView:
    """An indexed attestation, with its claim document when this node knows it."""

    uid: str
    """Its uid, ``0x`` hex."""
    schema_uid: str
    """Schema uid."""
    schema_name: str | None
    """Schema name (None for a schema the index has not seen approved)."""
    issuer_office: str
    """ST.3 code of the issuing office."""
    subject: str
    """32-byte subject, ``0x`` hex."""
    claim_hash: str
    """SHA-256 of the claim's RFC 8785 bytes."""
    claim: dict[str, Any] | None
    """The claim document, when this node issued the attestation."""
    certificate: str | None
    """The X.509 certificate (PEM) an office-certificate claim names, when known."""
    expires_at: datetime.datetime | None
    """When it stops holding (None: never)."""
    ref_uid: str | None
    """Attestation it builds on."""
    attester: str
    """Signer key that made it."""
    issued_block: int
    """Block it was recorded in."""
    issued_at: datetime.datetime
    """That block's time."""
    transaction_hash: str
    """Transaction that recorded it."""
    revoked_block: int | None
    """Block of its revocation (None: not revoked)."""
    revoked_at: datetime.datetime | None
    """Time of its revocation."""
    revoker: str | None
    """Key that revoked it, or the OfficeRegistry for a consortium vote."""
    log_index: int = 0
    """Position of its ``Attested`` log in its block."""
    issuer_history: tuple[IssuerStep, ...] = ()
    """Its issuer's status history, oldest first (as indexed)."""

    def status_at(self, timestamp: int, block_number: int | None = None) -> AttestationStatus:
        """Whether it held at Unix time ``timestamp`` — or at block ``block_number`` whose
        time that is (issuance, revocation and the issuer's status changes then judged by
        block)."""
        issued = int(self.issued_at.timestamp())
        revoked = None if self.revoked_at is None else int(self.revoked_at.timestamp())
        if block_number is not None:
            if self.issued_block > block_number:
                return AttestationStatus.NOT_YET_ISSUED
            if self.revoked_block is not None and self.revoked_block <= block_number:
                return AttestationStatus.REVOKED
        else:
            if timestamp < issued:
                return AttestationStatus.NOT_YET_ISSUED
            if revoked is not None and revoked <= timestamp:
                return AttestationStatus.REVOKED
        if self.expires_at is not None and int(self.expires_at.timestamp()) <= timestamp:
            return AttestationStatus.EXPIRED

        def by_then(step: IssuerStep) -> bool:
            if block_number is not None:
                return step.block_number <= block_number
            return step.timestamp <= timestamp

        position = (self.issued_block, self.log_index)
        later = [s for s in self.issuer_history if (s.block_number, s.log_index) > position]
        removal = next((s for s in later if s.status == OfficeStatusText.REMOVED), None)
        if removal is not None and by_then(removal):
            return AttestationStatus.ISSUER_REMOVED
        in_force = [step for step in self.issuer_history if by_then(step)]
        if not in_force or in_force[-1].status != OfficeStatusText.ACTIVE:
            return AttestationStatus.ISSUER_SUSPENDED
        return AttestationStatus.VALID


@dataclass(frozen=True, slots=True)
class OfficeGovernanceView:
    """An office's place in the consortium as the index has it."""

    code: str
    """ST.3 code."""
    name: str
    """Office name."""
    status: str
    """Current status."""
    admin: str
    """Admin account."""
    profile_hash: str
    """Profile document hash."""
    admitted_block: int
    """Block of its admission."""
    history: tuple[StatusChangeView, ...]
    """Admission and every status change, oldest first."""
    signers: tuple[SignerView, ...]
    """Every signer key it ever had, oldest first (revoked ones with their revocation)."""
    certificate: AttestationView | None
    """Its latest office-certificate attestation (the latest valid one if any holds)."""


@dataclass(frozen=True, slots=True)
class ProposalSummary:
    """A governance proposal with its votes, as indexed."""

    proposal_id: int
    """Sequential id."""
    action: str
    """``admit-office``, ``suspend-office``, …"""
    office: str | None
    """Office it concerns."""
    account: str | None
    """Account it concerns."""
    name: str
    """Office name or schema definition."""
    value: int
    """New threshold (basis points) of a threshold change."""
    data_hash: str
    """Profile hash of an office to admit."""
    proposer: str
    """Proposing office."""
    created_block: int
    """Block it was made in."""
    created_at: datetime.datetime
    """That block's time."""
    deadline: datetime.datetime
    """Last moment votes are accepted."""
    votes: int
    """Votes that count (of offices whose term has not ended since they voted)."""
    voters: tuple[str, ...]
    """Offices whose votes count, in order of voting."""
    threshold_bps: int | None
    """The threshold when it was made (None if indexed before it was kept)."""
    executed_block: int | None
    """Block it took effect in."""
    executed_at: datetime.datetime | None
    """That block's time."""
    state: str
    """``open``, ``executed``, ``expired`` or ``lapsed`` at the moment asked about."""


# --- the service -----------------------------------------------------------------------------


class GovernanceQueries:
    """Reads of the governance index."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    # ------------------------------------------------------------------ offices

    def office(
        self, code: str, now: int, *, certificate_pem: bytes | None = None
    ) -> OfficeGovernanceView:
        """One office with its history, signer keys and certificate attestation;
        :class:`NotFoundError` if the index has no such office. ``certificate_pem`` is the
        office's certificate if the node holds it: when the attestation's claim is not among
        the node's documents, it is rebuilt from it and shown if its hash matches."""
        _check_office(code, "office")
        with self.session_factory() as session:
            row = session.execute(select(offices).where(offices.c.code == code)).first()
            if row is None:
                raise NotFoundError(f"office {code} is not in this node's index")
            history = session.execute(
                select(office_status_history, proposals.c.proposal_id)
                .outerjoin(
                    proposals,
                    proposals.c.executed_transaction_hash
                    == office_status_history.c.transaction_hash,
                )
                .where(office_status_history.c.office == code)
                .order_by(office_status_history.c.block_number, office_status_history.c.log_index)
            ).all()
            signers = session.execute(
                select(office_signers)
                .where(office_signers.c.office == code)
                .order_by(office_signers.c.added_block, office_signers.c.signer)
            ).all()
            certificates = self._select_attestations(
                session,
                [
                    attestations.c.schema_uid == OFFICE_CERTIFICATE_SCHEMA.uid,
                    attestations.c.issuer_office == code,
                    attestations.c.subject == office_subject(code),
                ],
                limit=None,
                offset=0,
            )
        certificate = None
        for candidate in certificates:  # newest first
            if candidate.status_at(now) is AttestationStatus.VALID:
                certificate = candidate
                break
        if certificate is None and certificates:
            certificate = certificates[0]
        signer_views = tuple(
            SignerView(
                account=signer.signer,
                added_block=signer.added_block,
                added_at=_time(signer.added_at),
                revoked_block=signer.revoked_block,
                revoked_at=_utc(signer.revoked_at),
            )
            for signer in signers
        )
        if certificate is not None and certificate.claim is None and certificate_pem is not None:
            certificate = _with_certificate(certificate, certificate_pem, row.admin, signer_views)
        return OfficeGovernanceView(
            code=row.code,
            name=row.name,
            status=row.status,
            admin=row.admin,
            profile_hash=_hex(row.profile_hash) or "",
            admitted_block=row.admitted_block,
            history=tuple(
                StatusChangeView(
                    status=step.status,
                    change=step.change,
                    block_number=step.block_number,
                    changed_at=_time(step.block_timestamp),
                    transaction_hash=_hex(step.transaction_hash) or "",
                    proposal_id=step.proposal_id,
                )
                for step in history
            ),
            signers=signer_views,
            certificate=certificate,
        )

    def office_status(self, code: str) -> str | None:
        """An office's current status in the index (None when the index has no such office)."""
        with self.session_factory() as session:
            return session.scalar(select(offices.c.status).where(offices.c.code == code))

    def signer_revoked_block(self, account: str) -> int | None:
        """The block a signer key was revoked in, None if it is not known revoked."""
        with self.session_factory() as session:
            return session.scalar(
                select(office_signers.c.revoked_block).where(office_signers.c.signer == account)
            )

    def has_offices(self) -> bool:
        """Whether the index has read the consortium's founding yet."""
        with self.session_factory() as session:
            return session.scalar(select(func.count()).select_from(offices)) != 0

    # ------------------------------------------------------------------ proposals

    def proposals(
        self,
        now: int,
        *,
        state: str | None = None,
        action: str | None = None,
        office: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[ProposalSummary]:
        """Proposals, newest first, judged at Unix time ``now``; filtered by state, action and
        office (the office a proposal concerns or that made it)."""
        _check_page(limit, offset)
        conditions: list[ColumnElement[bool]] = []
        if state is not None:
            if state not in PROPOSAL_STATES:
                raise InvalidInputError(
                    f"state must be one of {', '.join(PROPOSAL_STATES)}", field="state"
                )
            if state == "executed":
                conditions.append(proposals.c.executed_block.is_not(None))
            else:
                conditions.append(proposals.c.executed_block.is_(None))
                open_ = proposals.c.deadline >= now
                conditions.append(~open_ if state == "expired" else open_)
                if state == "open":
                    conditions.append(proposals.c.lapsed_block.is_(None))
                elif state == "lapsed":
                    conditions.append(proposals.c.lapsed_block.is_not(None))
        if action is not None:
            conditions.append(proposals.c.action == action)
        if office is not None:
            _check_office(office, "office")
            conditions.append((proposals.c.office == office) | (proposals.c.proposer == office))
        with self.session_factory() as session:
            total = session.scalar(select(func.count()).select_from(proposals).where(*conditions))
            rows = session.execute(
                select(proposals)
                .where(*conditions)
                .order_by(proposals.c.proposal_id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            voters = self._voters(session, [row.proposal_id for row in rows])
        items = tuple(_proposal_summary(row, voters.get(row.proposal_id, ()), now) for row in rows)
        return Page(items=items, total=int(total or 0), limit=limit, offset=offset)

    def proposal(self, proposal_id: int, now: int) -> ProposalSummary:
        """One proposal; :class:`NotFoundError` if the index does not have it (yet)."""
        with self.session_factory() as session:
            row = session.execute(
                select(proposals).where(proposals.c.proposal_id == proposal_id)
            ).first()
            if row is None:
                raise NotFoundError(f"no proposal {proposal_id} in this node's index")
            voters = self._voters(session, [proposal_id])
        return _proposal_summary(row, voters.get(proposal_id, ()), now)

    @staticmethod
    def _voters(session: Session, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
        if not ids:
            return {}
        found: dict[int, list[str]] = {}
        for proposal_id, voter in session.execute(
            select(proposal_votes.c.proposal_id, proposal_votes.c.voter)
            .where(proposal_votes.c.proposal_id.in_(ids), proposal_votes.c.void_block.is_(None))
            .order_by(proposal_votes.c.block_number, proposal_votes.c.log_index)
        ):
            found.setdefault(proposal_id, []).append(voter)
        return {key: tuple(value) for key, value in found.items()}

    # ------------------------------------------------------------------ attestations

    def schema_uid(self, name_or_uid: str) -> bytes:
        """The uid of an approved schema given by name or uid; :class:`UnknownSchemaError` for
        a schema the index has not seen approved."""
        with self.session_factory() as session:
            if _HASH_HEX.fullmatch(name_or_uid):
                uid = bytes.fromhex(name_or_uid[2:])
                found = session.scalar(
                    select(attestation_schemas.c.schema_uid).where(
                        attestation_schemas.c.schema_uid == uid
                    )
                )
            else:
                found = session.scalar(
                    select(attestation_schemas.c.schema_uid)
                    .where(attestation_schemas.c.name == name_or_uid)
                    .order_by(attestation_schemas.c.approved_block.desc())
                    .limit(1)
                )
        if found is None:
            raise UnknownSchemaError(
                f"schema {name_or_uid!r:.80} is not approved by the consortium", field="schema"
            )
        return bytes(found)

    def schema_definition(self, uid: bytes) -> str | None:
        """The approved definition of a schema uid (None if the index has none)."""
        with self.session_factory() as session:
            return session.scalar(
                select(attestation_schemas.c.definition).where(
                    attestation_schemas.c.schema_uid == uid
                )
            )

    def attestations(
        self,
        *,
        subject: bytes | None = None,
        issuer_office: str | None = None,
        schema_uid: bytes | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[AttestationView]:
        """Attestations, newest first, filtered by subject, issuing office and schema."""
        _check_page(limit, offset)
        conditions: list[ColumnElement[bool]] = []
        if subject is not None:
            conditions.append(attestations.c.subject == subject)
        if issuer_office is not None:
            _check_office(issuer_office, "issuer")
            conditions.append(attestations.c.issuer_office == issuer_office)
        if schema_uid is not None:
            conditions.append(attestations.c.schema_uid == schema_uid)
        with self.session_factory() as session:
            total = session.scalar(
                select(func.count()).select_from(attestations).where(*conditions)
            )
            items = self._select_attestations(session, conditions, limit=limit, offset=offset)
        return Page(items=tuple(items), total=int(total or 0), limit=limit, offset=offset)

    def attestation(self, uid: bytes) -> AttestationView:
        """One attestation; :class:`NotFoundError` if the index does not have it."""
        with self.session_factory() as session:
            found = self._select_attestations(
                session, [attestations.c.uid == uid], limit=1, offset=0
            )
        if not found:
            raise NotFoundError(f"no attestation 0x{uid.hex()} in this node's index")
        return found[0]

    def store_claim(self, uid: bytes, claim: bytes, certificate: str | None = None) -> None:
        """Keep the claim document (canonical bytes) of an attestation this node issued."""
        with self.session_factory() as session, session.begin():
            session.connection(execution_options=IMMEDIATE)
            exists = session.scalar(
                select(func.count())
                .select_from(attestation_documents)
                .where(attestation_documents.c.uid == uid)
            )
            if not exists:
                session.execute(
                    attestation_documents.insert().values(
                        uid=uid, claim=claim.decode("utf-8"), certificate=certificate
                    )
                )

    @staticmethod
    def _select_attestations(
        session: Session,
        conditions: Sequence[ColumnElement[bool]],
        *,
        limit: int | None,
        offset: int,
    ) -> list[AttestationView]:
        statement = (
            select(
                attestations,
                attestation_schemas.c.name.label("schema_name"),
                attestation_documents.c.claim,
                attestation_documents.c.certificate,
            )
            .outerjoin(
                attestation_schemas,
                attestation_schemas.c.schema_uid == attestations.c.schema_uid,
            )
            .outerjoin(attestation_documents, attestation_documents.c.uid == attestations.c.uid)
            .where(*conditions)
            .order_by(attestations.c.issued_block.desc(), attestations.c.log_index.desc())
            .offset(offset)
        )
        if limit is not None:
            statement = statement.limit(limit)
        rows = session.execute(statement).all()
        issuers = sorted({row.issuer_office for row in rows})
        histories: dict[str, list[IssuerStep]] = {code: [] for code in issuers}
        if issuers:
            for step in session.execute(
                select(office_status_history)
                .where(office_status_history.c.office.in_(issuers))
                .order_by(office_status_history.c.block_number, office_status_history.c.log_index)
            ):
                histories[step.office].append(
                    IssuerStep(step.status, step.block_number, step.log_index, step.block_timestamp)
                )
        return [_attestation_view(row, tuple(histories[row.issuer_office])) for row in rows]


def _with_certificate(
    attestation: AttestationView, pem: bytes, admin: str, signers: Sequence[SignerView]
) -> AttestationView:
    """The attestation with its claim and certificate, if ``pem`` and the office's accounts
    when it was issued (admin and signer keys then current) hash to its claim hash."""
    block = attestation.issued_block
    accounts = [admin] + [
        signer.account
        for signer in signers
        if signer.added_block <= block
        and (signer.revoked_block is None or signer.revoked_block > block)
    ]
    try:
        claim = office_certificate_claim(pem, attestation.issuer_office, accounts)
    except InvalidInputError:  # not a certificate (CertificateError), or no accounts
        return attestation
    if "0x" + document_hash(claim).hex() != attestation.claim_hash:
        return attestation
    return dataclasses.replace(attestation, claim=claim, certificate=pem.decode("ascii"))


def _proposal_summary(row: Row[Any], voters: tuple[str, ...], now: int) -> ProposalSummary:
    if row.executed_block is not None:
        state = "executed"
    elif now > row.deadline:
        state = "expired"
    elif row.lapsed_block is not None:
        state = "lapsed"
    else:
        state = "open"
    return ProposalSummary(
        proposal_id=row.proposal_id,
        action=row.action,
        office=row.office,
        account=row.account,
        name=row.name,
        value=int(row.value),
        data_hash=_hex(row.data_hash) or "",
        proposer=row.proposer,
        created_block=row.created_block,
        created_at=_time(row.created_at),
        deadline=_time(row.deadline),
        votes=row.votes,
        voters=voters,
        threshold_bps=row.threshold_bps,
        executed_block=row.executed_block,
        executed_at=_utc(row.executed_at),
        state=state,
    )


def _attestation_view(row: Row[Any], issuer_history: tuple[IssuerStep, ...]) -> AttestationView:
    schema_uid = bytes(row.schema_uid)
    return AttestationView(
        uid=_hex(row.uid) or "",
        schema_uid=_hex(schema_uid) or "",
        schema_name=row.schema_name or _STANDARD_NAMES.get(schema_uid),
        issuer_office=row.issuer_office,
        subject=_hex(row.subject) or "",
        claim_hash=_hex(row.claim_hash) or "",
        claim=json.loads(row.claim) if row.claim is not None else None,
        certificate=row.certificate,
        expires_at=_utc(row.expires_at),
        ref_uid=_hex(row.ref_uid),
        attester=row.attester,
        issued_block=row.issued_block,
        issued_at=_time(row.issued_at),
        transaction_hash=_hex(row.transaction_hash) or "",
        revoked_block=row.revoked_block,
        revoked_at=_utc(row.revoked_at),
        revoker=row.revoker,
        log_index=row.log_index,
        issuer_history=issuer_history,
    )


__all__ = [
    "PROPOSAL_STATES",
    "AttestationView",
    "GovernanceQueries",
    "IssuerStep",
    "OfficeGovernanceView",
    "ProposalSummary",
    "SignerView",
    "StatusChangeView",
    "parse_hash",
    "parse_subject",
    "party_subject",
]
