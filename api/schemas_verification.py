"""Pydantic models of the verification endpoints' JSON (see :mod:`api.routes.verification`).

Hashes are ``0x`` + 64 lower-case hex digits; verdicts are those of :mod:`ipchain.verification`
(``verified``, ``tampered``, ``missing``, ``unanchored``, ``out-of-order``) and discrepancy
kinds those of the audit (docs/audit.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ipchain.verification import (
    BundleReport,
    Discrepancy,
    DocumentVerification,
    Finding,
    StoredRecordVerification,
)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


class DiscrepancyOut(_Model):
    """One difference between the node's database and the chain."""

    record_key: str
    seq: int | None = Field(description="Position in the record's history (None: the record).")
    entry_hash: str | None
    kind: str = Field(
        description="document-tampered, hash-mismatch, field-mismatch, missing, "
        "unanchored, chain-broken, out-of-order or duplicate."
    )
    field: str | None = Field(description="The stored column concerned, when there is one.")
    detail: str

    @classmethod
    def of(cls, item: Discrepancy) -> DiscrepancyOut:
        return cls(
            record_key=item.record_key,
            seq=item.seq,
            entry_hash=_hex(item.entry_hash),
            kind=item.kind.value,
            field=item.field,
            detail=item.detail,
        )


class StoredEventOut(_Model):
    """The verdict on one event of the record as this node stores it."""

    seq: int | None
    entry_hash: str | None
    event_code: str | None
    verdict: str = Field(description="verified, tampered, missing, unanchored or out-of-order.")
    detail: str
    discrepancies: list[DiscrepancyOut]

    @classmethod
    def of(cls, check: Finding) -> StoredEventOut:
        return cls(
            seq=check.seq,
            entry_hash=_hex(check.entry_hash),
            event_code=check.event_code,
            verdict=check.verdict.value,
            detail=check.detail,
            discrepancies=[DiscrepancyOut.of(item) for item in check.discrepancies],
        )


class LinkVerificationOut(_Model):
    """One link of an anchored event, judged against the chain as of that event."""

    seq: int = Field(description="The claiming event's position in the record's history.")
    link: int = Field(description="Index of the link in the event's links.")
    relation: str
    record_key: str | None
    result: str = Field(
        description="link-verified, link-unverifiable, link-target-missing, link-date-mismatch, "
        "link-out-of-window, link-applicant-mismatch or link-classes-not-covered."
    )
    reason: str


class RecordVerificationOut(_Model):
    """A record's stored history checked against the chain, event by event."""

    record_key: str
    ok: bool = Field(description="True only when every event is verified.")
    verdict: Literal["verified", "failed"]
    chain_id: int
    head_seq: int = Field(description="Events anchored for the record.")
    head_entry_hash: str
    stored_events: int = Field(description="Events this node stores for the record.")
    events: list[StoredEventOut]
    discrepancies: list[DiscrepancyOut]
    problems: list[str]
    warnings: list[str]
    checked_at: str
    link_checks: list[LinkVerificationOut] = Field(
        description="Each link the record's anchored events carry (priority claims, "
        "designations ...), re-checked against the chain as of its event."
    )
    links_ok: bool = Field(description="False when a link check failed (separate from ok).")
    links: dict[str, str]

    @classmethod
    def of(cls, result: StoredRecordVerification, base: str) -> RecordVerificationOut:
        path = f"{base}/records/{result.record_key}"
        return cls(
            record_key=result.record_key,
            ok=result.ok,
            verdict="verified" if result.ok else "failed",
            chain_id=result.chain_id,
            head_seq=result.head_seq,
            head_entry_hash="0x" + result.head_entry_hash.hex(),
            stored_events=result.stored_events,
            events=[StoredEventOut.of(check) for check in result.events],
            discrepancies=[DiscrepancyOut.of(item) for item in result.discrepancies],
            problems=list(result.problems),
            warnings=list(result.warnings),
            checked_at=result.checked_at,
            link_checks=[LinkVerificationOut(**item.to_json()) for item in result.links],
            links_ok=not any(item.check.failed for item in result.links),
            links={"self": f"{path}/verify", "proof": f"{path}/proof", "events": f"{path}/events"},
        )


class DocumentVerificationOut(_Model):
    """Whether a register event document is anchored, and where."""

    kind: Literal["document"] = "document"
    ok: bool
    verdict: str = Field(description="verified, tampered or unanchored.")
    record_key: str
    document_hash: str = Field(description="SHA-256 of the document's RFC 8785 bytes.")
    detail: str
    seq: int | None
    entry_hash: str | None
    office: str | None
    signer: str | None
    block_number: int | None
    transaction_hash: str | None
    warnings: list[str]

    @classmethod
    def of(cls, result: DocumentVerification) -> DocumentVerificationOut:
        return cls(
            ok=result.verdict.value == "verified",
            verdict=result.verdict.value,
            record_key=result.record_key,
            document_hash="0x" + result.document_hash.hex(),
            detail=result.detail,
            seq=result.seq,
            entry_hash=_hex(result.entry_hash),
            office=result.office,
            signer=result.signer,
            block_number=result.block_number,
            transaction_hash=_hex(result.transaction_hash),
            warnings=list(result.warnings),
        )


class BundleEventOut(_Model):
    """The verdict on one event of a proof bundle."""

    seq: int | None
    entry_hash: str | None
    event_code: str | None
    verdict: str = Field(description="verified, tampered, missing, unanchored or out-of-order.")
    detail: str
    position: int | None = Field(description="Position in the bundle (from 1).")
    failed: bool = Field(description="Whether it fails the bundle.")

    @classmethod
    def of(cls, check: Finding) -> BundleEventOut:
        return cls(
            seq=check.seq,
            entry_hash=_hex(check.entry_hash),
            event_code=check.event_code,
            verdict=check.verdict.value,
            detail=check.detail,
            position=check.position,
            failed=check.failed,
        )


class BundleVerificationOut(_Model):
    """A proof bundle checked against the chain."""

    kind: Literal["bundle"] = "bundle"
    ok: bool
    verdict: Literal["verified", "failed"]
    record_key: str
    chain_id: int
    registry_address: str
    ledger_address: str
    bundle_seq: int = Field(description="Events in the bundle.")
    head_seq: int = Field(description="Events anchored for the record now.")
    newer_events: int = Field(description="Events anchored after the bundle was made.")
    events: list[BundleEventOut]
    problems: list[str]
    warnings: list[str]

    @classmethod
    def of(cls, report: BundleReport) -> BundleVerificationOut:
        return cls(
            ok=report.ok,
            verdict="verified" if report.ok else "failed",
            record_key=report.record_key,
            chain_id=report.chain_id,
            registry_address=report.registry_address,
            ledger_address=report.ledger_address,
            bundle_seq=report.bundle_seq,
            head_seq=report.head_seq,
            newer_events=report.newer_events,
            events=[BundleEventOut.of(check) for check in report.checks],
            problems=list(report.problems),
            warnings=list(report.warnings),
        )
