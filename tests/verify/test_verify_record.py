"""verify_record / verify_document: documents claimed to be a record's history (from an office's
database or API) compared with what the chain holds, event by event."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ipchain.chain.rpc import RpcChain
from ipchain.contracts.bindings import load_interface
from ipchain.contracts.register_ledger import decode_event_recorded
from ipchain.encoding import canonical_bytes
from ipchain.errors import ChainError, InvalidInputError
from ipchain.verification import (
    RecordVerification,
    Verdict,
    build_bundle,
    verify_bundle,
    verify_document,
    verify_record,
)
from ipchain.verification.bundle import load_bundle
from ipchain.verification.reader import ChainReader, expected_ledger_code
from tests.helpers.anchored_record import RECORD_KEY, AnchoredRecord, register_document, to_anchor
from tests.helpers.consortium import Consortium
from tests.helpers.governance import governance, pass_proposal

Verdicts = list[tuple[int | None, Verdict]]


def check_record(anchored: AnchoredRecord, documents: list[Any]) -> RecordVerification:
    backend = RpcChain.connect(anchored.url)
    try:
        return verify_record(backend, anchored.consortium.deployment, RECORD_KEY, documents)
    finally:
        backend.close()


def verdicts(result: RecordVerification) -> Verdicts:
    return [(check.seq, check.verdict) for check in result.checks]


VERIFIED, TAMPERED, MISSING = Verdict.VERIFIED, Verdict.TAMPERED, Verdict.MISSING
UNANCHORED, OUT_OF_ORDER = Verdict.UNANCHORED, Verdict.OUT_OF_ORDER


def test_the_true_history_verifies(anchored: AnchoredRecord) -> None:
    result = check_record(anchored, anchored.documents)
    assert result.ok
    assert verdicts(result) == [(1, VERIFIED), (2, VERIFIED), (3, VERIFIED)]
    assert [check.event_code for check in result.checks] == ["A10", "Q10", "F10"]
    assert result.head_seq == 3


def test_documents_are_rehashed_canonically(anchored: AnchoredRecord) -> None:
    """Any JSON spelling of a document (key order, spacing) proves the same anchored event."""
    texts = [json.dumps(document, indent=2).encode() for document in anchored.documents]
    assert check_record(anchored, texts).ok


def _changed(document: dict[str, Any]) -> dict[str, Any]:
    return {**document, "event_date": "1999-01-01"}


@pytest.mark.parametrize(
    ("claimed", "expected"),
    [
        ([0, "changed 1", 2], [(1, VERIFIED), (2, TAMPERED), (3, VERIFIED)]),
        ([0, 2], [(1, VERIFIED), (2, MISSING), (3, VERIFIED)]),
        ([0, 1], [(1, VERIFIED), (2, VERIFIED), (3, MISSING)]),
        ([0, 1, 2, "extra"], [(1, VERIFIED), (2, VERIFIED), (3, VERIFIED), (None, UNANCHORED)]),
        ([1, 0, 2], [(1, VERIFIED), (2, OUT_OF_ORDER), (3, VERIFIED)]),
        ([0, 2, 1], [(1, VERIFIED), (2, VERIFIED), (3, OUT_OF_ORDER)]),
        ([], [(1, MISSING), (2, MISSING), (3, MISSING)]),
        (
            ["changed 0", "changed 1", "changed 2", "extra"],
            [(1, TAMPERED), (2, TAMPERED), (3, TAMPERED), (None, UNANCHORED)],
        ),
    ],
)
def test_each_discrepancy_gets_its_verdict(
    anchored: AnchoredRecord, claimed: list[Any], expected: Verdicts
) -> None:
    documents = []
    for item in claimed:
        if item == "extra":
            documents.append(register_document(RECORD_KEY, "M10", 30))
        elif isinstance(item, str):
            documents.append(_changed(anchored.documents[int(item.split()[1])]))
        else:
            documents.append(anchored.documents[item])
    result = check_record(anchored, documents)
    assert not result.ok
    assert verdicts(result) == expected, result.checks


def test_a_document_that_is_not_json_is_refused(anchored: AnchoredRecord) -> None:
    with pytest.raises(InvalidInputError):
        check_record(anchored, [b"{not json"])


def test_verify_document_finds_the_anchoring_entry(anchored: AnchoredRecord) -> None:
    backend = RpcChain.connect(anchored.url)
    deployment = anchored.consortium.deployment
    try:
        found = verify_document(backend, deployment, anchored.documents[1])
        assert (found.verdict, found.seq, found.office) == (VERIFIED, 2, "EM")
        assert found.signer == anchored.consortium.signers["EM"].address
        assert found.entry_hash == bytes.fromhex(anchored.bundle["entries"][1]["entry_hash"][2:])
        text = canonical_bytes(anchored.documents[2])
        assert verify_document(backend, deployment, text).seq == 3
        forged = verify_document(backend, deployment, _changed(anchored.documents[1]))
        assert (forged.verdict, forged.seq) == (UNANCHORED, None)
        with pytest.raises(InvalidInputError, match="record_key"):
            verify_document(backend, deployment, {"event_code": "A10"})
        other = verify_document(backend, deployment, {"a": 1}, record_key=RECORD_KEY)
        assert other.verdict is UNANCHORED
    finally:
        backend.close()


def test_log_decoder_agrees_with_the_abi(anchored: AnchoredRecord) -> None:
    backend = RpcChain.connect(anchored.url)
    ledger = load_interface("RegisterLedger")
    address = anchored.consortium.deployment.address("RegisterLedger")
    try:
        logs = backend.get_logs(address=address, from_block=0, to_block=backend.block_number())
    finally:
        backend.close()
    recorded = [log for log in logs if log.topics[0] == ledger.event_topic("EventRecorded")]
    assert len(recorded) == 5
    for log in recorded:
        decoded = ledger.decode_log(log)
        assert decoded is not None
        ours = decode_event_recorded(log)
        args = decoded.args
        assert (ours.record_id, ours.seq, ours.event_code) == (
            args["recordId"],
            args["seq"],
            args["eventCode"].rstrip(b"\0").decode("ascii"),
        )
        assert (ours.document_hash, ours.entry_hash, ours.prev_entry_hash) == (
            args["documentHash"],
            args["entryHash"],
            args["prevEntryHash"],
        )
        assert ours.office.encode() == args["office"]
        assert ours.signer == args["signer"]
        assert (ours.record_key, ours.document) == (args["recordKey"], args["document"])


def test_genuine_ledger_code_is_recognised(anchored: AnchoredRecord) -> None:
    backend = RpcChain.connect(anchored.url)
    deployment = anchored.consortium.deployment
    try:
        code = backend.get_code(deployment.address("RegisterLedger"))
    finally:
        backend.close()
    assert code == expected_ledger_code(deployment.address("OfficeRegistry"))
    assert code != expected_ledger_code("0x" + "11" * 20)


def test_events_of_a_signer_revoked_later_still_verify(consortium: Consortium) -> None:
    """Authorisation is judged at the event's block, not today. Runs on both backends."""
    backend, deployment = consortium.backend, consortium.deployment
    signer = consortium.signers["EM"]
    documents = [register_document("EM/DS/2024000001", code, 1) for code in ("A10", "Q10")]
    hash_only = register_document("EM/DS/2024000001", "F10", 2)
    consortium.ledger.anchor(signer, [to_anchor(documents[0]), to_anchor(documents[1])])
    consortium.ledger.anchor(signer, [to_anchor(hash_only, publish=False)])
    gov = governance(consortium)
    admins = consortium.admins
    pass_proposal(
        gov, gov.propose_revoke_signer(admins["EM"], "EM", signer.address), [admins["AU"]]
    )
    assert consortium.ledger.office_of(signer.address)[1] is False  # revoked now

    result = verify_record(backend, deployment, "EM/DS/2024000001", [*documents, hash_only])
    assert result.ok, result
    assert result.warnings == ()

    bundle = build_bundle(backend, deployment, "EM/DS/2024000001")
    assert bundle["entries"][2]["document"] is None  # anchored by hash alone
    report = verify_bundle(load_bundle(json.dumps(bundle)), backend)
    assert report.ok, report
    assert "only this event's document hash" in report.checks[2].detail
    supplied = build_bundle(
        backend,
        deployment,
        "EM/DS/2024000001",
        documents={to_anchor(hash_only).document_hash: canonical_bytes(hash_only)},
    )
    assert supplied["entries"][2]["document"] == canonical_bytes(hash_only).decode()
    assert verify_bundle(load_bundle(json.dumps(supplied)), backend).ok


def test_reader_batches_its_reads_and_keeps_the_code(anchored: AnchoredRecord) -> None:
    """Deployed code does not change: read once per reader (one batch), then kept."""
    backend = RpcChain.connect(anchored.url)
    deployment = anchored.consortium.deployment
    reader = ChainReader(
        backend, deployment.address("OfficeRegistry"), deployment.address("RegisterLedger")
    )
    try:
        assert reader.contract_problems() == []
        first = reader.codes()
        backend.close()  # cached answers need no node
        assert reader.codes() == first
    finally:
        backend.close()


def test_read_batch_answers_as_the_single_reads(consortium: Consortium) -> None:
    """The backend's batch read (a JSON-RPC batch on a node, a loop on the embedded chain)
    gives each read's own answer, and a ChainError in place for a read that fails."""
    from ipchain.chain.base import GetBlock, GetCode

    backend, deployment = consortium.backend, consortium.deployment
    address = deployment.address("RegisterLedger")
    head = backend.block_number()
    answers = backend.read_batch([GetCode(address), GetBlock(head), GetBlock(head + 1000)])
    assert answers[0] == backend.get_code(address)
    assert answers[1] == backend.get_block(head)
    assert isinstance(answers[2], ChainError)
