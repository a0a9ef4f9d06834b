"""Proof bundles: built from the chain, verified with nothing but the bundle and a JSON-RPC URL,
and every modification of a bundle is caught and blamed on the right event."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eth_utils import to_checksum_address

from ipchain.chain.rpc import RpcChain
from ipchain.encoding import canonical_bytes
from ipchain.errors import BundleFormatError, ChainMismatchError
from ipchain.verification import BundleReport, Verdict, Verifier, verify_bundle
from ipchain.verification.bundle import dump_bundle, load_bundle
from tests.helpers.anchored_record import OTHER_KEY, AnchoredRecord

Bundle = dict[str, Any]


def verify_json(bundle: Bundle, url: str, **options: Any) -> BundleReport:
    """Verify a bundle as an auditor would: its file bytes and a fresh connection only."""
    backend = RpcChain.connect(url)
    try:
        return verify_bundle(load_bundle(dump_bundle(bundle)), backend, **options)
    finally:
        backend.close()


def failing(report: BundleReport) -> dict[int | None, Verdict]:
    return {check.seq: check.verdict for check in report.checks if check.failed}


def test_bundle_verifies_from_the_chain_alone(anchored: AnchoredRecord) -> None:
    report = verify_json(anchored.bundle, anchored.url)
    assert report.ok, report
    assert [(c.seq, c.event_code, c.verdict) for c in report.checks] == [
        (1, "A10", Verdict.VERIFIED),
        (2, "Q10", Verdict.VERIFIED),
        (3, "F10", Verdict.VERIFIED),
    ]
    assert report.head_seq == report.bundle_seq == 3
    assert (report.problems, report.warnings) == ((), ())


def test_bundle_holds_the_exact_anchored_documents(anchored: AnchoredRecord) -> None:
    bundle = anchored.bundle
    assert bundle["format"] == "ipchain-proof-bundle" and bundle["format_version"] == 1
    assert [entry["document"].encode() for entry in bundle["entries"]] == [
        canonical_bytes(document) for document in anchored.documents
    ]
    blocks = [entry["block_number"] for entry in bundle["entries"]]
    assert blocks[0] < blocks[1] == blocks[2]  # two transactions, another record in between
    assert bundle["head"] == {"seq": 3, "entry_hash": bundle["entries"][2]["entry_hash"]}


def _flip_hex(text: str) -> str:
    return text[:-1] + ("1" if text[-1] != "1" else "2")


def _other_address(text: str) -> str:
    return to_checksum_address(_flip_hex(text.lower()))


def _entry(index: int, field: str, change: Callable[[Any], Any]) -> Callable[[Bundle], None]:
    def mutate(bundle: Bundle) -> None:
        bundle["entries"][index][field] = change(bundle["entries"][index][field])

    return mutate


def _set_document(index: int, text: Callable[[str], str]) -> Callable[[Bundle], None]:
    return _entry(index, "document", text)


def _delete(index: int) -> Callable[[Bundle], None]:
    def mutate(bundle: Bundle) -> None:
        del bundle["entries"][index]

    return mutate


def _duplicate(index: int) -> Callable[[Bundle], None]:
    def mutate(bundle: Bundle) -> None:
        bundle["entries"].insert(index + 1, json.loads(json.dumps(bundle["entries"][index])))

    return mutate


def _swap(first: int, second: int) -> Callable[[Bundle], None]:
    def mutate(bundle: Bundle) -> None:
        entries = bundle["entries"]
        entries[first], entries[second] = entries[second], entries[first]

    return mutate


def _pretty(text: str) -> str:
    return json.dumps(json.loads(text), indent=1, ensure_ascii=False)


# (mutation, the event seqs that may be blamed, the verdict)
EVENT_MUTATIONS: dict[str, tuple[Callable[[Bundle], None], tuple[int, ...], Verdict]] = {
    "document text": (
        _set_document(1, lambda text: text.replace("2024-03-08", "2024-03-09")),
        (2,),
        Verdict.TAMPERED,
    ),
    "document reformatted": (_set_document(1, _pretty), (2,), Verdict.TAMPERED),
    "document omitted": (_set_document(1, lambda _: None), (2,), Verdict.TAMPERED),
    "document_hash": (_entry(1, "document_hash", _flip_hex), (2,), Verdict.TAMPERED),
    "event_code": (_entry(1, "event_code", lambda _: "Q11"), (2,), Verdict.TAMPERED),
    "seq": (_entry(1, "seq", lambda seq: seq + 1), (2,), Verdict.OUT_OF_ORDER),
    "prev_entry_hash": (_entry(1, "prev_entry_hash", _flip_hex), (2,), Verdict.TAMPERED),
    "entry_hash": (_entry(1, "entry_hash", _flip_hex), (2,), Verdict.TAMPERED),
    "office": (_entry(1, "office", lambda _: "AU"), (2,), Verdict.TAMPERED),
    "signer": (_entry(1, "signer", _other_address), (2,), Verdict.TAMPERED),
    "block_number": (_entry(1, "block_number", lambda n: n - 1), (2,), Verdict.TAMPERED),
    "block_hash": (_entry(1, "block_hash", _flip_hex), (2,), Verdict.TAMPERED),
    "transaction_hash": (_entry(1, "transaction_hash", _flip_hex), (2,), Verdict.TAMPERED),
    "log_index": (_entry(1, "log_index", lambda n: n + 1), (2,), Verdict.TAMPERED),
    "entry deleted": (_delete(1), (2,), Verdict.MISSING),
    "entry duplicated": (_duplicate(1), (2,), Verdict.OUT_OF_ORDER),
    "entries swapped": (_swap(1, 2), (2, 3), Verdict.OUT_OF_ORDER),
    "first entry deleted": (_delete(0), (1,), Verdict.MISSING),
}


@pytest.mark.parametrize("name", EVENT_MUTATIONS)
def test_a_modified_entry_fails_naming_the_event(anchored: AnchoredRecord, name: str) -> None:
    mutate, seqs, verdict = EVENT_MUTATIONS[name]
    bundle = anchored.fresh_bundle()
    mutate(bundle)
    if name in ("entry deleted", "entries swapped", "first entry deleted", "entry duplicated"):
        # Keep the head consistent with the last entry, as a careful forger would.
        last = bundle["entries"][-1]
        bundle["head"] = {"seq": last["seq"], "entry_hash": last["entry_hash"]}
    report = verify_json(bundle, anchored.url)
    assert not report.ok
    blamed = failing(report)
    assert verdict in {blamed.get(seq) for seq in seqs}, report.checks


def test_a_record_key_changed_everywhere_fails_every_event(anchored: AnchoredRecord) -> None:
    bundle = anchored.fresh_bundle()
    bundle["record_key"] = OTHER_KEY
    report = verify_json(bundle, anchored.url)
    assert not report.ok
    assert set(failing(report)) >= {1, 2, 3}
    assert "record_id is not keccak256 of record_key" in report.problems


@pytest.mark.parametrize(
    ("path", "expected_problem"),
    [
        (("record_id",), "record_id"),
        (("contracts", "RegisterLedger", "code_hash"), "code hash"),
        (("contracts", "OfficeRegistry", "code_hash"), "code hash"),
        (("contracts", "RegisterLedger", "address"), "RegisterLedger"),
        (("contracts", "OfficeRegistry", "address"), "RegisterLedger"),
        (("head", "entry_hash"), "head"),
    ],
)
def test_a_modified_bundle_field_fails(
    anchored: AnchoredRecord, path: tuple[str, ...], expected_problem: str
) -> None:
    bundle = anchored.fresh_bundle()
    target = bundle
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = (
        _other_address(target[path[-1]]) if path[-1] == "address" else _flip_hex(target[path[-1]])
    )
    report = verify_json(bundle, anchored.url)
    assert not report.ok
    assert any(expected_problem in problem for problem in report.problems), report.problems
    if path[0] == "contracts" and path[-1] == "address":
        # Nothing is proven by contracts that are not ipchain's: no event may show verified.
        assert all(check.verdict is not Verdict.VERIFIED for check in report.checks)


def test_contracts_of_another_kind_are_not_trusted(anchored: AnchoredRecord) -> None:
    bundle = anchored.fresh_bundle()
    registry = bundle["contracts"]["OfficeRegistry"]["address"]
    bundle["contracts"]["RegisterLedger"]["address"] = registry
    report = verify_json(bundle, anchored.url)
    assert not report.ok
    assert any("is not ipchain's RegisterLedger" in problem for problem in report.problems)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path


def _mutated(value: Any, name: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return "x"
    if isinstance(value, int):
        return value + 1
    if name == "document":
        return value.replace('"2024-03', '"2023-03')
    if name in ("address", "signer"):
        return _other_address(value)
    if value.startswith("0x"):
        return _flip_hex(value)
    if name == "office":
        return "RU"
    return value[:-1] + chr(ord(value[-1]) + 1)


def test_every_modification_of_a_bundle_is_caught(anchored: AnchoredRecord) -> None:
    """Change each value of the bundle in turn (created_at only says when it was made): each
    change must make loading fail, or the chain check refuse, or the report fail."""
    leaves = [path for path in _leaves(anchored.bundle) if path != ("created_at",)]
    assert len(leaves) > 40
    for path in leaves:
        bundle = anchored.fresh_bundle()
        target = bundle
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = _mutated(target[path[-1]], path[-1])
        try:
            report = verify_json(bundle, anchored.url)
        except (BundleFormatError, ChainMismatchError):
            continue
        assert not report.ok, f"changing {path} went unnoticed"


def test_other_chain_id_is_refused(anchored: AnchoredRecord) -> None:
    bundle = anchored.fresh_bundle()
    bundle["chain_id"] = 1
    with pytest.raises(ChainMismatchError, match="chain id 1"):
        verify_json(bundle, anchored.url)


def test_newer_events_are_reported_missing_without_failing_unless_required(
    anchored: AnchoredRecord,
) -> None:
    """A bundle made before the record's last event: still a proof of what it holds."""
    bundle = anchored.fresh_bundle()
    del bundle["entries"][2]
    last = bundle["entries"][-1]
    bundle["head"] = {"seq": last["seq"], "entry_hash": last["entry_hash"]}
    report = verify_json(bundle, anchored.url)
    assert report.ok and report.newer_events == 1
    newer = report.checks[-1]
    assert (newer.seq, newer.verdict, newer.failed) == (3, Verdict.MISSING, False)
    strict = verify_json(bundle, anchored.url, require_head=True)
    assert not strict.ok and failing(strict) == {3: Verdict.MISSING}


def test_loaded_bundle_round_trips(anchored: AnchoredRecord) -> None:
    text = dump_bundle(anchored.bundle)
    assert json.loads(text) == anchored.bundle
    assert dump_bundle(load_bundle(text)) == text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("entries"), "entries"),
        (lambda b: b.update(extra=1), "extra"),
        (lambda b: b["entries"][0].pop("signer"), "entries[0].signer"),
        (lambda b: b["entries"][0].update(note="x"), "entries[0].note"),
        (lambda b: b["entries"][1].update(seq="2"), "entries[1].seq"),
        (lambda b: b["entries"][1].update(seq=True), "entries[1].seq"),
        (lambda b: b["entries"][1].update(block_number=-1), "entries[1].block_number"),
        (lambda b: b["entries"][0].update(block_hash="0xABC"), "entries[0].block_hash"),
        (lambda b: b["entries"][0].update(document=7), "entries[0].document"),
        (lambda b: b["entries"][0].update(office="em"), "entries[0].office"),
        (lambda b: b.update(entries=[]), "entries"),
        (lambda b: b.update(head=None), "head"),
        (lambda b: b.update(created_at="yesterday"), "created_at"),
        (lambda b: b.update(format_version=99), "format_version"),
        (lambda b: b.update(format_version="1"), "format_version"),
        (lambda b: b.update(format="zip"), "format"),
    ],
)
def test_malformed_bundles_are_refused_naming_the_field(
    anchored: AnchoredRecord, change: Callable[[Bundle], None], field: str
) -> None:
    bundle = anchored.fresh_bundle()
    change(bundle)
    with pytest.raises(BundleFormatError) as excinfo:
        load_bundle(json.dumps(bundle))
    assert excinfo.value.field == field, str(excinfo.value)


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"not json",
        b'{"format": "ipchain-proof-bundle", "format_version": 1',
        b'{"format": "ipchain-proof-bundle", "format": "ipchain-proof-bundle"}',
        b"\xef\xbb\xbf{}",
        b"[1, 2]",
    ],
)
def test_unparseable_bundles_are_refused(text: bytes) -> None:
    with pytest.raises(BundleFormatError):
        load_bundle(text)


def test_a_document_with_a_lone_surrogate_is_refused(anchored: AnchoredRecord) -> None:
    text = dump_bundle(anchored.bundle).replace(b'"document": "{', b'"document": "\\ud800{', 1)
    assert b"\\ud800" in text
    with pytest.raises(BundleFormatError):
        load_bundle(text)


def test_many_bundles_are_checked_together_in_order(anchored: AnchoredRecord) -> None:
    bad = anchored.fresh_bundle()
    bad["entries"][0]["log_index"] += 1
    bundles = [load_bundle(dump_bundle(b)) for b in (anchored.bundle, bad, anchored.bundle)]
    backend = RpcChain.connect(anchored.url)
    verifier = Verifier(backend)
    try:
        reports = verifier.verify_bundles(bundles * 3)
        assert [report.ok for report in reports] == [True, False, True] * 3
        assert [r.ok for r in verifier.verify_bundles(bundles)] == [True, False, True]
    finally:
        backend.close()
