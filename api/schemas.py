"""Pydantic models of the API's JSON: the edge only.

The services return frozen dataclasses (:mod:`ipchain.query`, :mod:`ipchain.submissions`);
these models describe the same values for OpenAPI and serialise them. Member names are
snake_case like the register event documents themselves, so a record's data reads the same in
a response as in the document that was anchored.
"""

from __future__ import annotations

import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ipchain.governance import OfficeInfo
from ipchain.query import EventView, RecordView
from ipchain.submissions import SubmissionEntryView, SubmissionView


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


class RecordPage(_Model):
    """One page of records."""

    items: list[Record]
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
    """Whether the node is up and how far behind its index is."""

    status: str
    chain_id: int
    chain_head: int
    indexed_block: int
    index_lag_blocks: int
    outbox_backlog: int
    signing_offices: list[str]
