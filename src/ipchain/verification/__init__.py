"""Everything that checks register data against the chain.

One :class:`Verifier` (a node owns one; the CLI makes one per run) with four entry points —
:meth:`~Verifier.verify_record`, :meth:`~Verifier.verify_bundle`,
:meth:`~Verifier.verify_document` and :func:`audit` — all built on one comparison
(:func:`~ipchain.verification.compare.compare`) and one vocabulary
(:mod:`ipchain.verification.findings`).
"""

from ipchain.verification.audit import AuditReport, audit
from ipchain.verification.bundle import Bundle, dump_bundle, load_bundle
from ipchain.verification.findings import Discrepancy, DiscrepancyKind, Finding, Verdict
from ipchain.verification.verifier import (
    BundleReport,
    DocumentVerification,
    RecordVerification,
    StoredRecordVerification,
    Verifier,
    build_bundle,
    verify_bundle,
    verify_document,
    verify_record,
)

__all__ = [
    "AuditReport",
    "Bundle",
    "BundleReport",
    "Discrepancy",
    "DiscrepancyKind",
    "DocumentVerification",
    "Finding",
    "RecordVerification",
    "StoredRecordVerification",
    "Verdict",
    "Verifier",
    "audit",
    "build_bundle",
    "dump_bundle",
    "load_bundle",
    "verify_bundle",
    "verify_document",
    "verify_record",
]
