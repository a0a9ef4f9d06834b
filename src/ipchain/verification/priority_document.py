"""The priority document of a first filing (issue 12): what an office of second filing needs in
place of a certified paper copy — the first filing's data as anchored, where on the chain it
is, whether the record verifies against the chain now, the priority claims the register holds
against it, and where to get its proof bundle.

The document's authority is the chain, not the node that prints it: it names the contracts
and the chain, and the proof bundle it points to checks offline against them
(``ipchain verify``, docs/proof-bundle.md).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from ipchain.register.catalog import office_catalog
from ipchain.register.queries import EventView, LinkView, RecordView, RegisterQueries
from ipchain.verification.verifier import StoredRecordVerification, Verifier


@dataclass(frozen=True, slots=True)
class PriorityDocument:
    """Everything the printed priority document states, gathered at one moment."""

    record: RecordView
    """The first filing's record as its history makes it now."""
    office_name: str
    """Name of the office of first filing (its catalogue name)."""
    filing: EventView
    """The record's filing event (its first event), as anchored."""
    applicants: tuple[str, ...]
    """Applicants named by the filing event's data."""
    verification: StoredRecordVerification
    """The record's stored history checked against the chain when the document was made."""
    claims: tuple[LinkView, ...]
    """Priority claims other records' events make on it, in chain order."""
    ledger_address: str
    """The RegisterLedger contract that holds its entries."""
    issued_at: datetime.datetime
    """When the document was made (UTC)."""

    @property
    def verified(self) -> bool:
        """Whether every stored event of the record is exactly what the chain holds."""
        return self.verification.ok


def priority_document(
    queries: RegisterQueries, verifier: Verifier, record_key: str, ledger_address: str
) -> PriorityDocument:
    """The priority document of ``record_key``; :class:`~ipchain.errors.NotFoundError` when
    the index has no event of it."""
    record = queries.get_record(record_key)
    history = queries.record_events(record_key)
    filing = history[0]
    data: Any = (filing.document or {}).get("record_data")
    parties = data.get("applicants") if isinstance(data, dict) else None
    applicants = tuple(
        str(party["name"])
        for party in (parties if isinstance(parties, list) else [])
        if isinstance(party, dict) and isinstance(party.get("name"), str)
    )
    office = office_catalog().offices.get(record.office)
    claims = tuple(
        link
        for link in queries.record_links(record_key)
        if link.direction == "incoming" and link.relation == "priority"
    )
    return PriorityDocument(
        record=record,
        office_name=office.name if office is not None else record.office,
        filing=filing,
        applicants=applicants,
        verification=verifier.verify_stored_record(record_key),
        claims=claims,
        ledger_address=ledger_address,
        issued_at=datetime.datetime.now(datetime.UTC).replace(microsecond=0),
    )


__all__ = ["PriorityDocument", "priority_document"]
