"""``ipchain demo``: the foundation path end to end, narrated for a workshop audience.

Three offices anchor trademark and design events; the events are read back from the chain
itself, each record's hash chain is verified, a modified document is caught, and an office
trying to write another office's record is refused by the contract. Then a new office, MT
(Malta), is proposed by EM and voted in, gets its signer key by vote, binds its certificate
from the consortium CA to its accounts, and anchors its first events.
"""

from __future__ import annotations

import copy
import tempfile
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ipchain.attestations import (
    Attestations,
    attest_office_certificate,
    verify_office_certificate_binding,
)
from ipchain.config import DEMO_OFFICES, Settings
from ipchain.contracts.bindings import send_and_confirm
from ipchain.contracts.office_registry import Governance, OfficeStatus
from ipchain.encoding import ZERO_HASH, canonical_bytes, document_hash, hash_to_hex
from ipchain.errors import ContractRevertError
from ipchain.governance.dev_setup import load_or_create_demo_ca, load_or_issue_office_certificate
from ipchain.keys import OfficeKey, admin_key_name, signer_key_name
from ipchain.node.setup import Node, fund, init_node, keystore_password
from ipchain.register.catalog import office_info
from ipchain.register.demo_data import generate_demo_events
from ipchain.register.ledger import EventToAnchor
from ipchain.register.models import RegisterEvent
from ipchain.verification import Verdict, verify_record

RECORDS_PER_OFFICE = 12


def _short(digest: bytes) -> str:
    return hash_to_hex(digest)[:10] + "…"


def run_demo(settings: Settings, console: Console) -> None:
    """Run the demo. Without an explicit data directory it uses a fresh temporary one, so it
    can be run again and again without mixing with a served node's register."""
    if settings.data_dir == Path(".ipchain") and settings.rpc_url is None:
        with tempfile.TemporaryDirectory(prefix="ipchain-demo-") as directory:
            _run(settings.model_copy(update={"data_dir": Path(directory)}), console)
    else:
        _run(settings, console)


def _run(settings: Settings, console: Console) -> None:
    chain_name = settings.rpc_url or f"embedded chain in {settings.chain_dir}"
    console.rule("[bold]ipchain demo[/]: three offices, one register")
    with console.status("Setting up the consortium (office keys, contracts)…"):
        node = init_node(settings, DEMO_OFFICES)
    try:
        console.print(f"Chain: {chain_name} (chain id {node.backend.chain_id})")
        for name, address in node.deployment.addresses.items():
            console.print(f"  {name:<20} {address}")
        events = generate_demo_events(
            [code for code, _ in DEMO_OFFICES], records_per_office=RECORDS_PER_OFFICE
        )
        documents = _anchor_all(node, events, console)
        _show_histories(node, documents, console)
        _show_tampering(node, documents, console)
        _show_foreign_write(node, console)
        _show_governance(node, console)
    finally:
        node.close()


def _anchor_all(
    node: Node, events: list[RegisterEvent], console: Console
) -> dict[str, list[dict[str, object]]]:
    """Anchor every office's events with its own signer key; return documents by record."""
    by_office: dict[str, list[RegisterEvent]] = defaultdict(list)
    documents: dict[str, list[dict[str, object]]] = defaultdict(list)
    for event in events:
        by_office[event.record_key.office].append(event)
    table = Table(title="Anchored register events")
    for column in ("office", "records", "events", "transactions", "blocks"):
        table.add_column(column, justify="right")
    for office, office_events in by_office.items():
        key = node.office_key(signer_key_name(office))
        to_anchor = []
        for event in office_events:
            document = event.to_document()
            documents[str(event.record_key)].append(document)
            to_anchor.append(
                EventToAnchor(
                    record_key=str(event.record_key),
                    event_code=event.event_code,
                    document_hash=document_hash(document),
                    document=canonical_bytes(document),
                )
            )
        with console.status(f"{office} anchors {len(to_anchor)} events…"):
            anchored = node.ledger.anchor(key, to_anchor, batch_size=100)
        table.add_row(
            office,
            str(len({entry.record_key for entry in anchored})),
            str(len(anchored)),
            str(len({entry.transaction_hash for entry in anchored})),
            str(len({entry.block_number for entry in anchored})),
        )
    console.print(table)
    return documents


def _pick_records(documents: dict[str, list[dict[str, object]]]) -> list[str]:
    """The record with the longest history at each office, trademarks and designs alike."""
    best: dict[str, str] = {}
    for key, history in documents.items():
        office = key.split("/")[0]
        if office not in best or len(history) > len(documents[best[office]]):
            best[office] = key
    return list(best.values())


def _show_histories(
    node: Node, documents: dict[str, list[dict[str, object]]], console: Console
) -> None:
    for record_key in _pick_records(documents):
        entries = node.ledger.record_entries(record_key)
        verification = verify_record(
            node.backend, node.deployment, record_key, documents[record_key]
        )
        table = Table(title=f"{record_key}: history read back from the chain")
        for column in ("seq", "event", "document SHA-256", "prev entry", "entry hash", "block"):
            table.add_column(column)
        table.add_column("verdict")
        for entry, check in zip(entries, verification.checks, strict=False):
            previous = "—" if entry.prev_entry_hash == ZERO_HASH else _short(entry.prev_entry_hash)
            colour = "green" if check.verdict is Verdict.VERIFIED else "red"
            table.add_row(
                str(entry.seq),
                entry.event_code,
                _short(entry.document_hash),
                previous,
                _short(entry.entry_hash),
                str(entry.block_number),
                f"[{colour}]{check.verdict.value}[/]",
            )
        console.print(table)
        outcome = "[green]hash chain verified[/]" if verification.ok else "[red]NOT verified[/]"
        console.print(f"  {record_key}: {len(entries)} events, {outcome}")


def _show_tampering(
    node: Node, documents: dict[str, list[dict[str, object]]], console: Console
) -> None:
    record_key = _pick_records(documents)[0]
    history = copy.deepcopy(documents[record_key])
    target = history[0]
    data = target.get("record_data")
    if isinstance(data, dict) and "mark_verbal_element_text" in data:
        data["mark_verbal_element_text"] = str(data["mark_verbal_element_text"]) + " PLUS"
        change = "mark verbal element"
    else:
        target["event_date"] = "1999-01-01"
        change = "event date"
    console.rule("A modified document")
    console.print(f"Someone edits the {change} of {record_key}'s first event in a database…")
    verification = verify_record(node.backend, node.deployment, record_key, history)
    for check in verification.checks:
        if check.verdict is not Verdict.VERIFIED:
            console.print(
                f"  seq {check.seq}: [red]{check.verdict.value}[/] — {check.detail}",
                highlight=False,
            )
    if verification.ok:  # pragma: no cover - would be a bug in verify_record
        console.print("[red]the modification was NOT detected[/]")
    else:
        console.print("  [green]caught[/]: the chain's hash no longer matches the document")


def _show_foreign_write(node: Node, console: Console) -> None:
    console.rule("An office writing another office's record")
    key = node.office_key(signer_key_name("EM"))
    entry = ("AU/TM/2345678", b"A10".ljust(8, b"\0"), b"\x01" * 32, ZERO_HASH, b"")
    try:
        send_and_confirm(
            node.backend,
            key,
            to=node.ledger.ledger_address,
            data=node.ledger.ledger.encode_call("recordEvents", [entry]),
            gas=500_000,
            interfaces=[node.ledger.ledger, node.ledger.registry],
        )
    except ContractRevertError as error:
        console.print(f"  EM writes AU/TM/2345678 → refused on chain: [red]{error}[/]")
    else:  # pragma: no cover - would be a contract bug
        console.print("  [red]EM wrote AU's record: the contract failed to refuse it[/]")


NEW_OFFICE = "MT"
"""The office the governance scene admits."""


def _show_governance(node: Node, console: Console) -> None:
    console.rule(f"A new office joins by vote: {NEW_OFFICE}")
    gov = Governance(node.backend, node.deployment)
    try:
        gov.office(NEW_OFFICE)
    except ContractRevertError:
        pass  # not a member yet: the scene can run
    else:
        console.print(f"  {NEW_OFFICE} is already a member of this consortium (an earlier demo)")
        return
    name = office_info(NEW_OFFICE).name
    admin, signer = _new_office_keys(node)
    em, au = (node.office_key(admin_key_name(code)) for code in ("EM", "AU"))
    table = Table(title=f"{NEW_OFFICE} ({name}) joins the consortium")
    for column in ("step", "by", "outcome", "block"):
        table.add_column(column)

    def step(what: str, by: str, outcome: str) -> None:
        table.add_row(what, by, outcome, str(node.backend.block_number()))

    admission = gov.propose_admit_office(em, NEW_OFFICE, name, admin.address)
    step(
        f"propose admitting {NEW_OFFICE} (proposal {admission})", "EM", "1 vote of 3 active offices"
    )
    passed = gov.vote(au, admission)
    member = gov.office(NEW_OFFICE).status is OfficeStatus.ACTIVE
    step(
        "vote", "AU", f"2 of 3: passed, {NEW_OFFICE} active" if passed and member else "not passed"
    )
    signer_proposal = gov.propose_add_signer(admin, NEW_OFFICE, signer.address)
    step(f"propose its signer key (proposal {signer_proposal})", NEW_OFFICE, "1 vote of 4")
    for voter, code in ((em, "EM"), (au, "AU")):
        passed = gov.vote(voter, signer_proposal)
        step("vote", code, "3 of 4: passed, key bound" if passed else "2 of 4")

    password = keystore_password(node.settings)
    ca_pem, ca_key = load_or_create_demo_ca(node.settings.data_dir, password)
    certificate = load_or_issue_office_certificate(
        node.settings.data_dir, ca_pem, ca_key, NEW_OFFICE, name, password
    )
    attestations = Attestations(node.backend, node.deployment)
    attestation = attest_office_certificate(
        attestations, signer, certificate, ca_pem, [admin.address, signer.address]
    )
    step("attest its certificate binding", NEW_OFFICE, f"attestation {_short(attestation.uid)}")
    binding = verify_office_certificate_binding(
        node.backend, node.deployment, certificate, ca_pem, NEW_OFFICE
    )
    step(
        "verify the binding against the chain",
        "anyone",
        f"certificate {_short(binding.certificate.fingerprint_sha256)} ↔ "
        f"{len(binding.accounts)} accounts",
    )
    events = generate_demo_events([NEW_OFFICE], records_per_office=3)
    anchored = node.ledger.anchor(signer, [_to_anchor(event) for event in events])
    records = len({entry.record_key for entry in anchored})
    step("anchor its first events", NEW_OFFICE, f"{len(anchored)} events, {records} records")
    console.print(table)
    console.print(
        f"  [green]{NEW_OFFICE} admitted[/] by vote, its certificate binding verified, "
        f"{len(anchored)} first events anchored"
    )


def _new_office_keys(node: Node) -> tuple[OfficeKey, OfficeKey]:
    """The new office's admin and signer keys, made in the node's keystore (and funded on a
    dev chain) as its own node would hold them."""
    password = keystore_password(node.settings)
    names = (admin_key_name(NEW_OFFICE), signer_key_name(NEW_OFFICE))
    for key_name in names:
        if key_name not in node.keystore.names():
            node.keystore.create(key_name, password)
    fund(node.backend, [node.keystore.address_of(key_name) for key_name in names])
    return node.office_key(names[0]), node.office_key(names[1])


def _to_anchor(event: RegisterEvent) -> EventToAnchor:
    document = event.to_document()
    return EventToAnchor(
        record_key=str(event.record_key),
        event_code=event.event_code,
        document_hash=document_hash(document),
        document=canonical_bytes(document),
    )
