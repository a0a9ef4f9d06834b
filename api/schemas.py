"""Pydantic models of the API's JSON: the edge only.

The services return frozen dataclasses (:mod:`ipchain.register.queries`,
:mod:`ipchain.register.submissions`); these models describe the same values for OpenAPI and
serialise them. Member names are snake_case like the register event documents themselves, so a
record's data reads the same in a response as in the document that was anchored.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ipchain.attestations import Attestation
from ipchain.contracts.office_registry import OfficeInfo, ProposalView
from ipchain.governance.actions import MAX_PROPOSAL_NAME_CHARS
from ipchain.governance.queries import (
    AttestationView,
    ProposalSummary,
    SignerView,
    StatusChangeView,
)
from ipchain.node.imports import ImportJob
from ipchain.register.queries import EventView, RecordNotes, RecordView
from ipchain.register.submissions import SubmissionEntryView, SubmissionView


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Problem(_Model):
    """An error (RFC 9457 problem details with ST.90-style stable codes)."""

    type: str = Field(description="URI reference identifying the problem type.")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="HTTP status code.")
    detail: str = Field(description="What went wrong with this request.")
    code: str = Field(description="Stable machine-readable code, e.g. invalid-state-transition.")
    field: str | None = Field(
        None, description="The request part concerned, e.g. events[2].event_date."
    )
    instance: str | None = Field(None, description="The request path.")


class Links(_Model):
    """Links to related pages."""

    self: str
    next: str | None = None
    prev: str | None = None


# --- offices ---------------------------------------------------------------------------------


class OfficeCounts(_Model):
    """How much of an office's register this node has indexed."""

    records: int = 0
    events: int = 0
    trademark_records: int = 0
    design_records: int = 0


class Office(_Model):
    """A member office of the consortium, as the OfficeRegistry holds it."""

    code: str = Field(description="WIPO ST.3 code.")
    name: str
    status: str = Field(description="active, suspended or removed.")
    admin: str = Field(description="Governance account.")
    signers: list[str] = Field(description="Accounts that may anchor the office's events.")
    counts: OfficeCounts
    links: dict[str, str]

    @classmethod
    def of(cls, office: OfficeInfo, stats: dict[str, int] | None, base: str) -> Office:
        stats = stats or {}
        return cls(
            code=office.code,
            name=office.name,
            status=office.status.name.lower(),
            admin=office.admin,
            signers=list(office.signers),
            counts=OfficeCounts(
                records=stats.get("records", 0),
                events=stats.get("events", 0),
                trademark_records=stats.get("TM_records", 0),
                design_records=stats.get("DS_records", 0),
            ),
            links={
                "self": f"{base}/offices/{office.code}",
                "records": f"{base}/records?office={office.code}",
                "events": f"{base}/events?office={office.code}",
            },
        )


class OfficeList(_Model):
    """Every office ever admitted, in order of admission."""

    items: list[Office]


# --- records and events ----------------------------------------------------------------------


class Event(_Model):
    """One anchored register event with its place in the record's hash chain and the chain."""

    record_key: str
    seq: int = Field(description="Position in the record's history, from 1.")
    event_code: str = Field(description="ST.61/ST.87 key event code.")
    event_name: str | None
    category: str = Field(description="ST.27 category letter.")
    national_code: str | None
    event_date: datetime.date | None
    effective_date: datetime.date | None
    document: dict[str, Any] | None = Field(description="The anchored event document.")
    document_hash: str = Field(description="SHA-256 of the RFC 8785 canonical document.")
    entry_hash: str
    prev_entry_hash: str
    office: str
    signer: str
    block_number: int
    block_hash: str
    transaction_hash: str
    log_index: int
    anchored_at: datetime.datetime

    @classmethod
    def of(cls, view: EventView) -> Event:
        return cls.model_validate(view, from_attributes=True)


class Record(_Model):
    """A record with its status derived from its event history."""

    record_key: str
    office: str
    ip_type: str = Field(description="TM (trademark) or DS (industrial design).")
    application_number: str
    st13: str | None = Field(description="WIPO ST.13 application number, when derivable.")
    status: str | None
    data: dict[str, Any] = Field(description="Current record data (ST.96 names).")
    mark_text: str | None
    nice_classes: list[int]
    locarno_classes: list[str]
    filing_date: datetime.date | None
    registration_date: datetime.date | None
    expiry_date: datetime.date | None
    event_count: int
    head_entry_hash: str
    last_block_number: int
    links: dict[str, str]

    @classmethod
    def of(cls, view: RecordView, base: str) -> Record:
        path = f"{base}/records/{view.record_key}"
        return cls(
            record_key=view.record_key,
            office=view.office,
            ip_type=view.ip_type,
            application_number=view.application_number,
            st13=view.st13,
            status=view.status,
            data=view.data,
            mark_text=view.mark_text,
            nice_classes=list(view.nice_classes),
            locarno_classes=list(view.locarno_classes),
            filing_date=view.filing_date,
            registration_date=view.registration_date,
            expiry_date=view.expiry_date,
            event_count=view.event_count,
            head_entry_hash=view.head_entry_hash,
            last_block_number=view.last_block_number,
            links={"self": path, "events": f"{path}/events"},
        )


class EventFlagOut(_Model):
    """Something odd about one of the record's indexed events; it is indexed all the same."""

    seq: int = Field(description="Position of the event in the record's history.")
    entry_hash: str
    flag: str = Field(description="e.g. unknown-event-code (this node's catalogue may be older).")
    detail: str


class QuarantinedOut(_Model):
    """A chain log of the record this node could not parse or store: kept raw, not indexed."""

    block_number: int
    log_index: int
    transaction_hash: str
    entry_hash: str | None = Field(description="When the log was readable that far.")
    reason: str


class RecordDetail(Record):
    """A record with what its page shows beside its data: flagged events and quarantined
    chain logs (both usually empty). With quarantined logs, the record is shown as its indexed
    events make it, which may be behind the chain."""

    flags: list[EventFlagOut] = Field(description="Flags on its indexed events.")
    quarantined: list[QuarantinedOut] = Field(
        description="Its chain logs left out of the index, in chain order."
    )

    @classmethod
    def with_notes(cls, view: RecordView, notes: RecordNotes, base: str) -> RecordDetail:
        return cls(
            **Record.of(view, base).model_dump(),
            flags=[EventFlagOut(**dataclasses.asdict(flag)) for flag in notes.flags],
            quarantined=[QuarantinedOut(**dataclasses.asdict(item)) for item in notes.quarantined],
        )


class RecordPage(_Model):
    """One page of records."""

    items: list[Record]
    total: int = Field(description="Records matching in all.")
    limit: int
    offset: int
    links: Links


class RecordSelectionPage(_Model):
    """One page of records with only the members ``fields`` named."""

    items: list[dict[str, Any]] = Field(description="Each record's members named by fields.")
    total: int = Field(description="Records matching in all.")
    limit: int
    offset: int
    links: Links


class RecordHistory(_Model):
    """A record's events, oldest first."""

    record_key: str
    items: list[Event]


class EventPage(_Model):
    """One page of the all-offices event feed, newest first."""

    items: list[Event]
    next_cursor: str | None = Field(description="Pass as cursor for the next (older) page.")
    links: Links


# --- submissions -----------------------------------------------------------------------------


class LinkCheckOut(_Model):
    """How one link of an accepted event was checked at submission."""

    link: int = Field(description="Index of the link in the event's links.")
    relation: str
    record_key: str | None = Field(description="The linked record (None for an outside number).")
    result: str = Field(description="link-verified or link-unverifiable.")
    reason: str = Field(description="What was checked, or why it could not be.")


class SubmissionEntry(_Model):
    """One submitted event on its way to the chain."""

    position: int
    record_key: str
    event_code: str
    document_hash: str
    state: str = Field(description="pending, sent, anchored or failed.")
    seq: int | None
    entry_hash: str | None
    transaction_hash: str | None
    block_number: int | None
    error: str | None
    links: list[LinkCheckOut] = Field(
        default_factory=list,
        description="How each of its links was checked at submission (a link that fails is "
        "refused with 422 and nothing is accepted).",
    )

    @classmethod
    def of(cls, view: SubmissionEntryView) -> SubmissionEntry:
        return cls.model_validate(view, from_attributes=True)


class SubmissionError(_Model):
    """Why a submission failed."""

    code: str
    detail: str
    field: str | None


class Submission(_Model):
    """A submission of events: poll it until it is anchored (or failed)."""

    id: str
    office: str
    status: str = Field(description="pending, anchored or failed.")
    indexed: bool = Field(description="Anchored and visible in this node's queries.")
    idempotency_key: str | None
    event_count: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    error: SubmissionError | None
    entries: list[SubmissionEntry]
    links: dict[str, str]

    @classmethod
    def of(cls, view: SubmissionView, base: str) -> Submission:
        error = None
        if view.error_code is not None:
            error = SubmissionError(
                code=view.error_code, detail=view.error_message or "", field=view.error_field
            )
        return cls(
            id=view.id,
            office=view.office,
            status=view.status,
            indexed=view.indexed,
            idempotency_key=view.idempotency_key,
            event_count=view.event_count,
            created_at=view.created_at,
            updated_at=view.updated_at,
            error=error,
            entries=[SubmissionEntry.of(entry) for entry in view.entries],
            links={"self": f"{base}/submissions/{view.id}"},
        )


# --- health ----------------------------------------------------------------------------------


class Health(_Model):
    """Whether the node is up, what stops it, and how far behind its index is."""

    status: str = Field(
        description="ok; degraded (working, but something needs a look: quarantined chain "
        "events); unavailable (anchoring or indexing stopped: a storage fault, a database or "
        "chain node that does not answer, no writer process): then the answer is a 503 "
        "node-unavailable problem with these members under health."
    )
    reasons: list[str] = Field(description="Why the status is not ok, one line each.")
    anchoring: str = Field(
        description="running, stopped (new submissions are refused with 503 until it runs "
        "again), or unknown (no writer state to read)."
    )
    indexing: str = Field(description="running, stopped or unknown.")
    chain_id: int
    chain_head: int | None = Field(description="None when the chain does not answer.")
    indexed_block: int | None = Field(description="None when the index cannot be read.")
    index_lag_blocks: int | None
    outbox_backlog: int | None
    quarantined_events: int | None = Field(
        description="Chain events the indexer could not parse or store, kept raw and left "
        "out of the index (the audit names them)."
    )
    flagged_events: int | None = Field(
        description="Indexed events flagged as odd (an event code this node's catalogue does "
        "not know, a document no ipchain node would anchor ...)."
    )
    signing_offices: list[str]


# --- governance and attestations -------------------------------------------------------------


class StatusChange(_Model):
    """One step of an office's history: its admission or a change of status."""

    status: str = Field(description="active, suspended or removed from this step on.")
    change: str = Field(description="admitted or status-changed.")
    block_number: int
    changed_at: datetime.datetime = Field(description="Block time.")
    transaction_hash: str
    proposal_id: int | None = Field(
        default=None,
        description="The proposal whose execution made the change (None for founders).",
    )

    @classmethod
    def of(cls, view: StatusChangeView) -> StatusChange:
        return cls(
            status=view.status,
            change=view.change,
            block_number=view.block_number,
            changed_at=view.changed_at,
            transaction_hash=view.transaction_hash,
            proposal_id=view.proposal_id,
        )


class SignerKey(_Model):
    """A signer key an office has or had."""

    account: str
    added_block: int
    added_at: datetime.datetime
    revoked_block: int | None = None
    revoked_at: datetime.datetime | None = None

    @classmethod
    def of(cls, view: SignerView) -> SignerKey:
        return cls(
            account=view.account,
            added_block=view.added_block,
            added_at=view.added_at,
            revoked_block=view.revoked_block,
            revoked_at=view.revoked_at,
        )


class Validity(_Model):
    """Whether an attestation held at a moment (AttestationRegistry's validityAt rule)."""

    at: datetime.datetime = Field(description="The moment judged (a block's time for a block).")
    block: int | None = Field(default=None, description="The block judged at, when one was asked.")
    status: str = Field(
        description="valid, revoked, expired, not-yet-issued, issuer-removed (its issuer was "
        "removed since it was issued: for good) or issuer-suspended (its issuer was not active "
        "then)."
    )
    valid: bool


class AttestationOut(_Model):
    """An attestation: an office vouching for a claim (only its hash is on-chain)."""

    uid: str
    schema_uid: str
    schema_name: str | None = None
    issuer_office: str
    subject: str
    claim_hash: str = Field(description="SHA-256 of the claim's RFC 8785 bytes.")
    claim: dict[str, Any] | None = Field(
        default=None, description="The claim document, when this node issued the attestation."
    )
    certificate: str | None = Field(
        default=None, description="The X.509 certificate (PEM) of an office-certificate claim."
    )
    expires_at: datetime.datetime | None = None
    ref_uid: str | None = None
    attester: str = Field(description="Signer key that made it.")
    issued_at: datetime.datetime
    issued_block: int | None = None
    transaction_hash: str | None = None
    revoked_at: datetime.datetime | None = None
    revoked_block: int | None = None
    revoker: str | None = None
    validity: Validity | None = None
    links: dict[str, str]

    @classmethod
    def of(
        cls, view: AttestationView, base: str, validity: Validity | None = None
    ) -> AttestationOut:
        return cls(
            uid=view.uid,
            schema_uid=view.schema_uid,
            schema_name=view.schema_name,
            issuer_office=view.issuer_office,
            subject=view.subject,
            claim_hash=view.claim_hash,
            claim=view.claim,
            certificate=view.certificate,
            expires_at=view.expires_at,
            ref_uid=view.ref_uid,
            attester=view.attester,
            issued_at=view.issued_at,
            issued_block=view.issued_block,
            transaction_hash=view.transaction_hash,
            revoked_at=view.revoked_at,
            revoked_block=view.revoked_block,
            revoker=view.revoker,
            validity=validity,
            links={"self": f"{base}/attestations/{view.uid}"},
        )

    @classmethod
    def of_chain(
        cls,
        attestation: Attestation,
        base: str,
        *,
        schema_name: str | None = None,
        claim: dict[str, Any] | None = None,
    ) -> AttestationOut:
        """From the registry itself (a write's answer, before the index has it)."""

        def utc(timestamp: int | None) -> datetime.datetime | None:
            if timestamp is None:
                return None
            return datetime.datetime.fromtimestamp(timestamp, datetime.UTC)

        uid = "0x" + attestation.uid.hex()
        return cls(
            uid=uid,
            schema_uid="0x" + attestation.schema_uid.hex(),
            schema_name=schema_name,
            issuer_office=attestation.issuer_office,
            subject="0x" + attestation.subject.hex(),
            claim_hash="0x" + attestation.claim_hash.hex(),
            claim=claim,
            expires_at=utc(attestation.expires_at),
            ref_uid=None if attestation.ref_uid is None else "0x" + attestation.ref_uid.hex(),
            attester=attestation.attester,
            issued_at=utc(attestation.issued_at) or datetime.datetime.now(datetime.UTC),
            revoked_at=utc(attestation.revoked_at),
            links={"self": f"{base}/attestations/{uid}"},
        )


class AttestationPage(_Model):
    """A page of attestations, newest first."""

    items: list[AttestationOut]
    total: int
    limit: int
    offset: int


class AttestationCreate(BaseModel):
    """An attestation to issue as the token's office (its signer key attests)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_name: str = Field(
        alias="schema",
        description="Name (ipchain/party-identity/v1) or uid (0x…) of an approved schema.",
    )
    claim: dict[str, Any] | None = Field(
        default=None,
        description="The claim document; may be left out for ipchain/office-certificate/v1, "
        "which then binds the office's admin and current signer keys.",
    )
    expires_at: int | datetime.datetime | None = Field(
        default=None,
        description="When it stops holding (Unix seconds or ISO 8601); default never (an "
        "office certificate's binding: the certificate's end of validity).",
    )
    ref_uid: str | None = Field(default=None, description="An earlier attestation it builds on.")
    certificate: str | None = Field(
        default=None, description="PEM certificate: required for ipchain/office-certificate/v1."
    )


class ProposalOut(_Model):
    """A governance proposal."""

    proposal_id: int
    action: str = Field(description="admit-office, suspend-office, reinstate-office, …")
    office: str | None = None
    account: str | None = None
    name: str = Field(default="", description="Office name ((re-)admission) or schema definition.")
    value: int = Field(
        default=0,
        description="New threshold in basis points (change-threshold), or the Unix time from "
        "which an office's attestations are revoked (revoke-attestations-issued-since).",
    )
    data_hash: str = Field(
        description="Profile hash ((re-)admission) or attestation uid (revoke-attestation)."
    )
    proposer: str
    created_at: datetime.datetime
    deadline: datetime.datetime = Field(description="Last moment votes are accepted.")
    votes: int = Field(
        description="Votes that count: of offices active now that kept their admin key since."
    )
    voters: list[str] | None = Field(
        default=None, description="Offices whose votes count (as indexed)."
    )
    threshold_bps: int | None = Field(
        default=None,
        description="Threshold when it was made; the stricter of it and the current one applies.",
    )
    state: str = Field(
        description="open, executed, expired or lapsed (its proposer left active or replaced "
        "its admin key: it can no longer pass)."
    )
    created_block: int | None = None
    executed_block: int | None = None
    executed_at: datetime.datetime | None = None
    links: dict[str, str]

    @classmethod
    def of(cls, view: ProposalSummary, base: str) -> ProposalOut:
        return cls(
            proposal_id=view.proposal_id,
            action=view.action,
            office=view.office,
            account=view.account,
            name=view.name,
            value=view.value,
            data_hash=view.data_hash,
            proposer=view.proposer,
            created_at=view.created_at,
            deadline=view.deadline,
            votes=view.votes,
            voters=list(view.voters),
            threshold_bps=view.threshold_bps,
            state=view.state,
            created_block=view.created_block,
            executed_block=view.executed_block,
            executed_at=view.executed_at,
            links=_proposal_links(base, view.proposal_id),
        )

    @classmethod
    def of_chain(cls, view: ProposalView, base: str) -> ProposalOut:
        """From the registry itself (a write's answer, before the index has it)."""
        return cls(
            proposal_id=view.proposal_id,
            action=view.action.name.lower().replace("_", "-"),
            office=view.office,
            account=view.account,
            name=view.name,
            value=view.value,
            data_hash="0x" + view.data_hash.hex(),
            proposer=view.proposer,
            created_at=datetime.datetime.fromtimestamp(view.created_at, datetime.UTC),
            deadline=datetime.datetime.fromtimestamp(view.deadline, datetime.UTC),
            votes=view.votes,
            threshold_bps=view.threshold_bps,
            state=view.state.value,
            links=_proposal_links(base, view.proposal_id),
        )


def _proposal_links(base: str, proposal_id: int) -> dict[str, str]:
    return {
        "self": f"{base}/proposals/{proposal_id}",
        "votes": f"{base}/proposals/{proposal_id}/votes",
        "execute": f"{base}/proposals/{proposal_id}/execute",
    }


class ProposalPage(_Model):
    """A page of proposals, newest first."""

    items: list[ProposalOut]
    total: int
    limit: int
    offset: int


class ProposalCreate(BaseModel):
    """A proposal to make as the token's office (its admin key proposes and votes at once)."""

    model_config = ConfigDict(extra="forbid")

    action: str = Field(
        max_length=40,
        description="admit-office, suspend-office, reinstate-office, remove-office, "
        "add-signer, revoke-signer, change-threshold, approve-schema, replace-admin, "
        "readmit-office, revoke-attestation or revoke-attestations-issued-since.",
    )
    office: str | None = Field(default=None, description="ST.3 code of the office concerned.")
    account: str | None = Field(
        default=None,
        max_length=42,
        description="New admin ((re-)admission, replace-admin) or signer key (signer actions).",
    )
    name: str | None = Field(
        default=None,
        max_length=MAX_PROPOSAL_NAME_CHARS,
        description="Office name ((re-)admission) or schema definition.",
    )
    value: int | None = Field(
        default=None,
        description="New threshold in basis points (change-threshold), or the Unix time from "
        "which the office's attestations are revoked (revoke-attestations-issued-since).",
    )
    profile_hash: str | None = Field(
        default=None, max_length=66, description="Profile document hash ((re-)admission)."
    )
    uid: str | None = Field(
        default=None,
        max_length=66,
        description="Uid of the attestation to revoke (revoke-attestation).",
    )


class VoteOut(_Model):
    """A vote and what it did."""

    proposal_id: int
    voter: str
    executed: bool = Field(description="Whether this vote made the proposal pass and execute.")
    proposal: ProposalOut


class OfficeDetail(Office):
    """An office with its governance history, signer keys and certificate binding."""

    admitted_block: int | None = None
    status_history: list[StatusChange] = Field(
        default_factory=list, description="Admission and every status change, oldest first."
    )
    signer_keys: list[SignerKey] = Field(
        default_factory=list, description="Every signer key, revoked ones included."
    )
    certificate: AttestationOut | None = Field(
        default=None, description="Its latest office-certificate attestation (a valid one if any)."
    )


class ImportJobOut(_Model):
    """An import job and how far it got: poll it until completed or failed."""

    id: str
    office: str
    status: str = Field(description="queued, running, completed or failed.")
    created_at: str
    updated_at: str
    file_bytes: int
    events_sent: int = Field(description="Events accepted so far.")
    records: int
    events: int
    batches: int
    replayed: int = Field(description="Batches an earlier run of the job had sent.")
    unverifiable_links: int
    seconds: float
    error: str | None = Field(description="Why it failed: the file line, record and field.")
    links: dict[str, str]

    @classmethod
    def of(cls, job: ImportJob, base: str) -> ImportJobOut:
        return cls(**dataclasses.asdict(job), links={"self": f"{base}/imports/{job.id}"})
