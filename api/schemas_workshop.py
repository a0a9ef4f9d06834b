"""Pydantic models of the JSON the workshop page reads beside the register API: the network's
nodes, a record's links both ways, what a node serves that the chain does not hold, the demo
tampering, event codes, and the pushed feed (:mod:`api.routes.network`, :mod:`api.routes.links`,
:mod:`api.routes.differences`, :mod:`api.routes.demo`, :mod:`api.routes.catalogue`,
:mod:`api.routes.feed`)."""

from __future__ import annotations

import datetime

from pydantic import BaseModel, ConfigDict, Field

from ipchain.register.catalog import EventCode
from ipchain.register.queries import EventView, LinkView, RecordSummary
from ipchain.register.tampering import FieldDifference, RecordDifferences, Tampering


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- network ---------------------------------------------------------------------------------


class NetworkNode(_Model):
    """One office node of the network."""

    office: str = Field(description="ST.3 code of the office running the node.")
    name: str | None = Field(None, description="The office's name.")
    url: str = Field(description="Base URL of the node (its API is under /api/v1).")


class Network(_Model):
    """The nodes the workshop page shows side by side, and this node's own flags."""

    nodes: list[NetworkNode] = Field(
        description="Every office node (this one alone when the node runs outside a network)."
    )
    source: str = Field(description="Where the list comes from: a network file or this node.")
    demo: bool = Field(description="Whether this node runs in demo mode (tampering allowed).")
    signing_offices: list[str] = Field(description="Offices this node writes for.")


# --- links -----------------------------------------------------------------------------------


class LinkOut(_Model):
    """A link between two records, seen from one of them."""

    relation: str = Field(description="priority, madrid-designation, seniority, earlier-right ...")
    direction: str = Field(description="outgoing (this record names the other) or incoming.")
    record_key: str | None = Field(description="The other record.")
    external_number: str | None = Field(description="The linked right's number, when not here.")
    link_date: datetime.date | None
    seq: int = Field(description="The event carrying the link, in its record's history.")
    event_code: str
    mark_text: str | None = Field(description="The other record's mark (None: not indexed).")
    holder: str | None = Field(description="The other record's holder.")
    links: dict[str, str]

    @classmethod
    def of(cls, link: LinkView, other: RecordSummary | None, base: str) -> LinkOut:
        return cls(
            relation=link.relation,
            direction=link.direction,
            record_key=link.record_key,
            external_number=link.external_number,
            link_date=link.link_date,
            seq=link.seq,
            event_code=link.event_code,
            mark_text=None if other is None else other.mark_text,
            holder=None if other is None else other.holder,
            links={}
            if link.record_key is None
            else {"record": f"{base}/records/{link.record_key}"},
        )


class RecordLinks(_Model):
    """A record's links to other records (its own events') and from them (theirs)."""

    record_key: str
    items: list[LinkOut]


# --- differences and tampering ---------------------------------------------------------------


class DifferenceOut(_Model):
    """One value this node serves that the chain does not hold."""

    where: str = Field(description="The event (or the record data) concerned.")
    field: str = Field(description="What the value is, in words: holder, mark ...")
    path: str = Field(description="Where it is in the document.")
    chain: str | None = Field(description="The value the chain holds.")
    stored: str | None = Field(description="The value this node stores and serves.")
    sentence: str = Field(description='In words: "holder: Nortaar SAS → Mallory Holdings Ltd".')

    @classmethod
    def of(cls, item: FieldDifference) -> DifferenceOut:
        return cls(
            where=item.where,
            field=item.field,
            path=item.path,
            chain=item.chain,
            stored=item.stored,
            sentence=item.sentence,
        )


class DifferencesOut(_Model):
    """A record as this node stores it, against what the chain holds, field by field."""

    record_key: str
    ok: bool = Field(description="True when the node serves exactly what the chain holds.")
    anchored_events: int
    stored_events: int
    differences: list[DifferenceOut]

    @classmethod
    def of(cls, result: RecordDifferences) -> DifferencesOut:
        return cls(
            record_key=result.record_key,
            ok=not result.differences,
            anchored_events=result.anchored_events,
            stored_events=result.stored_events,
            differences=[DifferenceOut.of(item) for item in result.differences],
        )


class TamperingOut(_Model):
    """What the demo tampering changed in this node's database, and the result."""

    record_key: str
    seq: int = Field(description="The event whose stored document was changed.")
    field: str
    before: str
    after: str
    differences: DifferencesOut

    @classmethod
    def of(cls, tampering: Tampering, differences: RecordDifferences) -> TamperingOut:
        return cls(
            record_key=tampering.record_key,
            seq=tampering.seq,
            field=tampering.field,
            before=tampering.before,
            after=tampering.after,
            differences=DifferencesOut.of(differences),
        )


# --- event codes -----------------------------------------------------------------------------


class EventCodeOut(_Model):
    """A key event code of the catalogue."""

    code: str
    name: str
    category: str = Field(description="ST.27 category letter.")
    ip_types: list[str]
    standards: list[str] = Field(description="WIPO ST.61 (trademarks), ST.87 (designs).")
    allowed_after: list[str | None] = Field(
        description="The record statuses the event may follow (null: a record's first event)."
    )
    sets_status: str | None = Field(description="The status after it (null: unchanged).")
    restores_previous_status: bool = Field(
        description="Whether it returns the record to its status before its last change."
    )
    starts_record: bool = Field(
        description="Whether it starts a record and must carry its minimum record data."
    )

    @classmethod
    def of(cls, code: EventCode) -> EventCodeOut:
        return cls(
            code=code.code,
            name=code.name,
            category=code.category,
            ip_types=sorted(str(ip_type.value) for ip_type in code.ip_types),
            standards=list(code.standards),
            allowed_after=sorted(
                (None if status is None else str(status.value) for status in code.requires_status),
                key=lambda status: (status is not None, status or ""),
            ),
            sets_status=None if code.sets_status is None else str(code.sets_status.value),
            restores_previous_status=code.restores_previous_status,
            starts_record=code.requires_complete_data,
        )


class EventCodeList(_Model):
    """Event codes (those that may come next for a record, when one is named)."""

    record_key: str | None
    status: str | None = Field(description="The record's status, when one is named.")
    items: list[EventCodeOut]


# --- the pushed feed -------------------------------------------------------------------------


class FeedEvent(_Model):
    """A register event as the live feed pushes it."""

    record_key: str
    seq: int
    event_code: str
    event_name: str | None
    event_date: datetime.date | None
    office: str
    mark_text: str | None
    holder: str | None
    block_number: int
    log_index: int
    entry_hash: str
    anchored_at: datetime.datetime

    @classmethod
    def of(cls, view: EventView, summary: RecordSummary | None) -> FeedEvent:
        return cls(
            record_key=view.record_key,
            seq=view.seq,
            event_code=view.event_code,
            event_name=view.event_name,
            event_date=view.event_date,
            office=view.office,
            mark_text=None if summary is None else summary.mark_text,
            holder=None if summary is None else summary.holder,
            block_number=view.block_number,
            log_index=view.log_index,
            entry_hash=view.entry_hash,
            anchored_at=view.anchored_at,
        )


class NodeStatus(_Model):
    """The node's chain head and index, as the live feed pushes them."""

    chain_id: int
    chain_head: int
    indexed_block: int
    index_lag_blocks: int
    signing_offices: list[str]
