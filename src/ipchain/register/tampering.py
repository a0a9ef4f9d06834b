"""Tampering with a node's database, for the workshop, and what a tampered node serves that
the chain does not hold.

:func:`tamper_record` is the demo's villain: it changes one stored field of a record (its
holder's name) in the node's own index, in the event document and in the record data, behind
the indexer's back, as someone with write access to the database could. Only a node started
in demo mode exposes it (``ipchain serve --demo``); nothing else in ipchain calls it.

:func:`stored_differences` is read-only and holds for any node: each stored event document is
compared with the document the chain published for the same entry, and the stored record data
with the data the anchored documents imply, field by field, in words ("holder: Nortaar SAS →
Mallory Holdings Ltd") rather than as two hashes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ipchain.contracts.register_ledger import AnchoredEvent
from ipchain.db.register import events, record_data
from ipchain.errors import InvalidInputError, NotFoundError
from ipchain.register.catalog import event_catalog
from ipchain.register.indexing import merge_record_data, parse_document
from ipchain.register.ledger import Ledger
from ipchain.register.models import SCHEMA

TAMPERED_HOLDER: Final = "Mallory Holdings Ltd"
"""The name :func:`tamper_record` writes over a record's holder."""

_LABELS: Final = {
    "applicants.name": "holder",
    "applicants.address": "holder's address",
    "applicants.country_code": "holder's country",
    "applicants.identifier": "holder's identifier",
    "representatives.name": "representative",
    "mark_verbal_element_text": "mark",
    "application_date": "filing date",
    "registration_date": "registration date",
    "expiry_date": "expiry date",
    "event_date": "event date",
    "effective_date": "effective date",
    "nice_classes": "Nice classes",
    "locarno_classes": "Locarno classes",
    "product_indications.text": "product",
}


@dataclass(frozen=True, slots=True)
class FieldDifference:
    """One value the node serves that the chain does not hold."""

    where: str
    """``event 3 (R10 Transfer ...)`` or ``record data``."""
    field: str
    """What the value is, in words (``holder``, ``mark``)."""
    path: str
    """Where it is in the document (``record_data.applicants[0].name``)."""
    chain: str | None
    """The value the chain holds (None: absent there)."""
    stored: str | None
    """The value the node stores and serves (None: absent there)."""

    @property
    def sentence(self) -> str:
        """``holder: Nortaar SAS → Mallory Holdings Ltd``."""
        return f"{self.field}: {self.chain or '(none)'} → {self.stored or '(none)'}"


@dataclass(frozen=True, slots=True)
class RecordDifferences:
    """A record as the node stores it against what the chain holds."""

    record_key: str
    """The record."""
    anchored_events: int
    """Events the chain holds for it."""
    stored_events: int
    """Events the node stores for it."""
    differences: tuple[FieldDifference, ...]
    """Every differing value; empty when the node serves what the chain holds."""


@dataclass(frozen=True, slots=True)
class Tampering:
    """What :func:`tamper_record` changed."""

    record_key: str
    """The record."""
    seq: int
    """The event whose stored document was changed."""
    field: str
    """The field changed, in words."""
    before: str
    """Its value before."""
    after: str
    """Its value now."""


def tamper_record(
    session_factory: sessionmaker[Session], record_key: str, value: str = TAMPERED_HOLDER
) -> Tampering:
    """DEMO ONLY: overwrite the holder's name of ``record_key`` in this node's database — in
    the stored document of the latest event naming the holder and in the record data — without
    touching the chain. :class:`NotFoundError` for an unknown record,
    :class:`InvalidInputError` for a record whose documents name no holder."""
    with session_factory() as session:
        rows = session.execute(
            select(events.c.entry_hash, events.c.seq, events.c.document)
            .where(events.c.record_key == record_key)
            .order_by(events.c.seq.desc())
        ).all()
        if not rows:
            raise NotFoundError(f"no record {record_key}")
        for entry_hash, seq, text in rows:
            document = parse_document(text)
            before = _holder_of(None if document is None else document.get("record_data"))
            if document is None or before is None:
                continue
            document["record_data"]["applicants"][0]["name"] = value
            session.execute(
                update(events)
                .where(events.c.entry_hash == entry_hash)
                .values(document=_json(document))
            )
            stored = session.scalar(
                select(record_data.c.data).where(record_data.c.record_key == record_key)
            )
            data = parse_document(stored)
            if data is not None and _holder_of(data) is not None:
                data["applicants"][0]["name"] = value
                session.execute(
                    update(record_data)
                    .where(record_data.c.record_key == record_key)
                    .values(data=_json(data))
                )
            session.commit()
            return Tampering(record_key, int(seq), "holder", before, value)
    raise InvalidInputError(f"no stored document of {record_key} names a holder to change")


def stored_differences(
    session_factory: sessionmaker[Session], ledger: Ledger, record_key: str
) -> RecordDifferences:
    """Compare what the node stores for ``record_key`` with what the chain holds: each stored
    event document with the document anchored under the same entry hash (read from the chain
    through ``ledger``), and the stored record data with the data the anchored documents imply.
    :class:`NotFoundError` when neither knows the record."""
    anchored = ledger.record_entries(record_key)
    with session_factory() as session:
        rows = session.execute(
            select(
                events.c.entry_hash,
                events.c.seq,
                events.c.event_code,
                events.c.document,
                events.c.document_bytes,
            )
            .where(events.c.record_key == record_key)
            .order_by(events.c.seq)
        ).all()
        stored_data = session.scalar(
            select(record_data.c.data).where(record_data.c.record_key == record_key)
        )
    if not rows and not anchored:
        raise NotFoundError(f"no record {record_key}, neither stored nor anchored")
    by_hash = {entry.entry_hash: entry for entry in anchored}
    names = event_catalog().codes
    found: list[FieldDifference] = []
    for entry_hash, seq, code, text, raw in rows:
        info = names.get(code)
        where = f"event {seq} ({code}{' ' + info.name if info else ''})"
        entry = by_hash.get(bytes(entry_hash))
        if entry is None:
            found.append(FieldDifference(where, "event", "", None, "not on the chain"))
            continue
        stored = text.encode("utf-8", "surrogatepass") if text is not None else raw
        if (bytes(stored) if stored else b"") == entry.document:
            continue
        chain_text = entry.document.decode("utf-8", "replace") if entry.document else None
        found.extend(
            _compare(where, parse_document(chain_text), parse_document(text), "")
            or [FieldDifference(where, "document", "", "(as anchored)", "(changed bytes)")]
        )
    implied = merge_record_data(_interpretable(entry) for entry in anchored)
    found.extend(_compare("record data", implied, parse_document(stored_data), ""))
    return RecordDifferences(record_key, len(anchored), len(rows), tuple(found))


def _interpretable(entry: AnchoredEvent) -> dict[str, Any] | None:
    """The anchored document when the indexer derives record data from it (it names its own
    entry's record and event code in this schema), else None."""
    document = parse_document(entry.document)
    if (
        document is None
        or document.get("schema") != SCHEMA
        or document.get("record_key") != entry.record_key
        or document.get("event_code") != entry.event_code
    ):
        return None
    return document


def _holder_of(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    parties = data.get("applicants")
    if isinstance(parties, list) and parties and isinstance(parties[0], dict):
        name = parties[0].get("name")
        return name if isinstance(name, str) else None
    return None


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _compare(where: str, chain: Any, stored: Any, path: str) -> list[FieldDifference]:
    """The leaves where ``stored`` differs from ``chain`` (both parsed JSON)."""
    chain_leaves = dict(_leaves(chain, path))
    stored_leaves = dict(_leaves(stored, path))
    return [
        FieldDifference(
            where,
            _label(leaf),
            leaf,
            _shown(chain_leaves.get(leaf)),
            _shown(stored_leaves.get(leaf)),
        )
        for leaf in sorted(chain_leaves.keys() | stored_leaves.keys())
        if chain_leaves.get(leaf, _MISSING) != stored_leaves.get(leaf, _MISSING)
    ]


_MISSING: Final = object()


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and value and any(isinstance(i, dict | list) for i in value):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    elif value is not None or path:
        yield path, value


def _label(path: str) -> str:
    """``record_data.applicants[0].name`` → ``holder``."""
    parts = [part.split("[")[0] for part in path.split(".") if part != "record_data"]
    for size in (2, 1):
        label = _LABELS.get(".".join(parts[-size:]))
        if label is not None:
            return label
    return " ".join(parts[-1:]).replace("_", " ") or path


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


__all__ = [
    "TAMPERED_HOLDER",
    "FieldDifference",
    "RecordDifferences",
    "Tampering",
    "stored_differences",
    "tamper_record",
]
