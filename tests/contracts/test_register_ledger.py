"""RegisterLedger: authorised offices anchor hash-chained register events; everything else is
rejected with the exact custom error. Runs against both backends."""

from __future__ import annotations

import hashlib

import pytest

from ipchain.contracts.bindings import send_and_confirm
from ipchain.encoding import ZERO_HASH, entry_hash, event_code_bytes8, record_id
from ipchain.errors import ContractRevertError
from ipchain.keys import OfficeKey
from ipchain.register.ledger import EventToAnchor
from tests.helpers.consortium import Consortium


def doc_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def send_entries(
    consortium: Consortium,
    key: OfficeKey,
    entries: list[tuple],  # type: ignore[type-arg]
) -> None:
    """Call recordEvents directly, bypassing the Ledger's own linking and checks."""
    ledger = consortium.ledger
    raw_entries = [
        (key_, event_code_bytes8(code), doc, prev, document)
        for key_, code, doc, prev, document in (
            entry if len(entry) == 5 else (*entry, b"") for entry in entries
        )
    ]
    send_and_confirm(
        consortium.backend,
        key,
        to=ledger.ledger_address,
        data=ledger.ledger.encode_call("recordEvents", raw_entries),
        gas=2_000_000,
        interfaces=[ledger.ledger, ledger.registry],
    )


def expect_error(
    name: str, excinfo: pytest.ExceptionInfo[ContractRevertError]
) -> tuple[object, ...]:
    assert excinfo.value.error_name == name, str(excinfo.value)
    return excinfo.value.error_args


def test_anchored_history_is_a_hash_chain_read_back_from_the_chain(consortium: Consortium) -> None:
    key = "EM/TM/018123456"
    events = [
        EventToAnchor(key, "A10", doc_hash("filed")),
        EventToAnchor(key, "Q10", doc_hash("published")),
        EventToAnchor(key, "F10", doc_hash("registered")),
    ]
    anchored = consortium.ledger.anchor(consortium.signers["EM"], events)
    assert [e.seq for e in anchored] == [1, 2, 3]
    assert anchored[0].prev_entry_hash == ZERO_HASH
    previous = ZERO_HASH
    for seq, (event, entry) in enumerate(zip(events, anchored, strict=True), start=1):
        assert entry.prev_entry_hash == previous
        assert entry.entry_hash == entry_hash(
            record_id(key),
            seq,
            event_code_bytes8(event.event_code),
            event.document_hash,
            previous,
            "EM",
        )
        assert entry.office == "EM"
        assert entry.signer == consortium.signers["EM"].address
        previous = entry.entry_hash

    from_chain = consortium.ledger.record_entries(key)
    assert from_chain == anchored
    assert consortium.ledger.head_of(key) == (anchored[-1].entry_hash, 3)


def test_many_records_across_several_transactions(consortium: Consortium) -> None:
    events = [
        EventToAnchor(f"AU/TM/{2300000 + n % 7}", "A10" if n < 7 else "Q10", doc_hash(str(n)))
        for n in range(21)
    ]
    anchored = consortium.ledger.anchor(consortium.signers["AU"], events, batch_size=4)
    assert len(anchored) == 21
    assert len({e.transaction_hash for e in anchored}) == 6
    for n in range(7):
        history = consortium.ledger.record_entries(f"AU/TM/{2300000 + n}")
        assert [e.seq for e in history] == [1, 2, 3]


def test_non_office_account_is_rejected(consortium: Consortium) -> None:
    with pytest.raises(ContractRevertError) as excinfo:
        send_entries(
            consortium, consortium.outsider, [("EM/TM/1", "A10", doc_hash("x"), ZERO_HASH)]
        )
    assert expect_error("RegisterUnauthorizedOffice", excinfo) == (consortium.outsider.address,)


def test_ledger_refuses_to_sign_for_a_non_office_key(consortium: Consortium) -> None:
    with pytest.raises(ContractRevertError) as excinfo:
        consortium.ledger.anchor(
            consortium.outsider, [EventToAnchor("EM/TM/1", "A10", doc_hash("x"))]
        )
    assert expect_error("RegisterUnauthorizedOffice", excinfo) == (consortium.outsider.address,)
    assert consortium.backend.get_nonce(consortium.outsider.address) == 0


def test_admin_key_cannot_write_register_events(consortium: Consortium) -> None:
    admin = consortium.admins["EM"]
    with pytest.raises(ContractRevertError) as excinfo:
        send_entries(consortium, admin, [("EM/TM/1", "A10", doc_hash("x"), ZERO_HASH)])
    assert expect_error("RegisterUnauthorizedOffice", excinfo) == (admin.address,)


def test_office_cannot_write_another_offices_record(consortium: Consortium) -> None:
    with pytest.raises(ContractRevertError) as excinfo:
        send_entries(
            consortium,
            consortium.signers["EM"],
            [("AU/TM/2345678", "A10", doc_hash("x"), ZERO_HASH)],
        )
    assert expect_error("RegisterForeignRecord", excinfo) == (0, b"EM", "AU/TM/2345678")


def test_wrong_prev_entry_hash_is_rejected(consortium: Consortium) -> None:
    signer = consortium.signers["RU"]
    (first,) = consortium.ledger.anchor(
        signer, [EventToAnchor("RU/TM/2023712345", "A10", doc_hash("a"))]
    )
    forged = b"\x11" * 32
    with pytest.raises(ContractRevertError) as excinfo:
        send_entries(consortium, signer, [("RU/TM/2023712345", "Q10", doc_hash("b"), forged)])
    assert expect_error("RegisterStaleHead", excinfo) == (
        0,
        record_id("RU/TM/2023712345"),
        first.entry_hash,
        forged,
    )


def test_replayed_entry_is_rejected_as_already_recorded(consortium: Consortium) -> None:
    signer = consortium.signers["EM"]
    entry = ("EM/DS/009876543-0001", "A10", doc_hash("design filed"), ZERO_HASH)
    send_entries(consortium, signer, [entry])
    ((anchored),) = consortium.ledger.record_entries("EM/DS/009876543-0001")
    with pytest.raises(ContractRevertError) as excinfo:
        send_entries(consortium, signer, [entry])
    assert expect_error("RegisterEntryAlreadyRecorded", excinfo) == (0, anchored.entry_hash)


def test_batch_with_one_bad_entry_is_rejected_whole(consortium: Consortium) -> None:
    signer = consortium.signers["EM"]
    good = ("EM/TM/000000001", "A10", doc_hash("ok"), ZERO_HASH)
    bad = ("EM/TM/000000002", "A10", doc_hash("bad"), b"\x22" * 32)
    with pytest.raises(ContractRevertError) as excinfo:
        send_entries(consortium, signer, [good, bad])
    expect_error("RegisterStaleHead", excinfo)
    assert consortium.ledger.head_of("EM/TM/000000001") == (ZERO_HASH, 0)


@pytest.mark.parametrize(
    ("entries", "error"),
    [
        ([], "RegisterEmptyBatch"),
        ([("EM/XX/1234", "A10", b"\x01" * 32, ZERO_HASH)], "RegisterInvalidRecordKey"),
        ([("EMTM1234567", "A10", b"\x01" * 32, ZERO_HASH)], "RegisterInvalidRecordKey"),
        ([("EM/TM/1234", "A10", ZERO_HASH, ZERO_HASH)], "RegisterZeroDocumentHash"),
    ],
)
def test_malformed_entries_are_rejected(
    consortium: Consortium, entries: list[tuple[str, str, bytes, bytes]], error: str
) -> None:
    with pytest.raises(ContractRevertError) as excinfo:
        send_entries(consortium, consortium.signers["EM"], entries)
    expect_error(error, excinfo)


def test_registry_knows_offices_and_their_signers(consortium: Consortium) -> None:
    ledger = consortium.ledger
    assert ledger.office_of(consortium.signers["AU"].address) == ("AU", True)
    assert ledger.office_of(consortium.outsider.address) == (None, False)


def test_published_document_is_checked_and_readable_from_the_chain(consortium: Consortium) -> None:
    document = b'{"event_code":"A10","record_key":"EM/TM/018000001"}'
    digest = hashlib.sha256(document).digest()
    (anchored,) = consortium.ledger.anchor(
        consortium.signers["EM"], [EventToAnchor("EM/TM/018000001", "A10", digest, document)]
    )
    assert anchored.document == document
    assert consortium.ledger.record_entries("EM/TM/018000001")[0].document == document


def test_document_not_matching_its_hash_is_rejected(consortium: Consortium) -> None:
    with pytest.raises(ContractRevertError) as excinfo:
        send_entries(
            consortium,
            consortium.signers["EM"],
            [("EM/TM/018000002", "A10", doc_hash("claimed"), ZERO_HASH, b"other bytes")],
        )
    assert expect_error("RegisterDocumentHashMismatch", excinfo) == (
        0,
        doc_hash("claimed"),
        hashlib.sha256(b"other bytes").digest(),
    )
