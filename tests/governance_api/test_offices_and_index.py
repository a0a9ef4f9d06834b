"""The governance side of an office through the API (status history, signer keys, certificate
binding), proposals as indexed, and the governance index itself: the same rows whether the
chain is read in one range or many, and after a reorg's rollback and a second reading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ipchain.attestations import verify_office_certificate_binding
from ipchain.chain.base import BlockInfo, LogEntry
from ipchain.contracts.bindings import DecodedLog
from ipchain.db.base import make_engine, session_factory, upgrade
from ipchain.db.governance import (
    attestation_schemas,
    attestations,
    office_signers,
    office_status_history,
    offices,
    proposal_votes,
    proposals,
)
from ipchain.db.indexer import Indexer
from ipchain.db.register import indexer_checkpoints
from ipchain.governance.dev_setup import ca_certificate_path, office_certificate_path
from ipchain.governance.indexing import (
    _attested,
    _revoked,
    _signer_added,
    _signer_revoked,
)
from ipchain.node.service import node_handlers
from tests.governance_api.conftest import World

INDEXED_TABLES = (
    offices,
    office_status_history,
    office_signers,
    proposals,
    proposal_votes,
    attestation_schemas,
    attestations,
)


def test_suspended_office_shows_its_status_history(world: World) -> None:
    office = world.get("/offices/FR").json()
    assert office["status"] == "suspended"
    steps = [(step["change"], step["status"]) for step in office["status_history"]]
    assert steps == [("admitted", "active"), ("status-changed", "suspended")]
    founding, suspension = office["status_history"]
    assert founding["proposal_id"] is None  # a founding office, not admitted by vote
    proposal = world.get(f"/proposals/{suspension['proposal_id']}").json()
    assert (proposal["action"], proposal["office"], proposal["state"]) == (
        "suspend-office",
        "FR",
        "executed",
    )
    assert proposal["executed_block"] == suspension["block_number"]
    assert proposal["voters"] == ["EM", "AU", "RU", "US"]
    removed = world.get("/offices/DE").json()
    assert [step["status"] for step in removed["status_history"]] == ["active", "removed"]


def test_revoked_signer_key_shows_with_its_revocation(world: World) -> None:
    office = world.get("/offices/US").json()
    assert office["status"] == "active" and office["signers"] == []
    (key,) = office["signer_keys"]
    assert key["account"] == world.signer("US").address
    assert key["revoked_block"] is not None and key["revoked_block"] > key["added_block"]


def test_office_shows_its_certificate_binding(world: World) -> None:
    office = world.get("/offices/EM").json()
    certificate = office["certificate"]
    assert certificate["schema_name"] == "ipchain/office-certificate/v1"
    assert certificate["issuer_office"] == "EM"
    accounts = {world.admin("EM").address, world.signer("EM").address}
    assert set(certificate["claim"]["accounts"]) == accounts
    data_dir = world.service.settings.data_dir
    pem = office_certificate_path(data_dir, "EM").read_bytes()
    assert certificate["certificate"].encode() == pem
    binding = verify_office_certificate_binding(
        world.service.node.backend,
        world.service.node.deployment,
        pem,
        ca_certificate_path(data_dir).read_bytes(),
        "EM",
    )
    assert "0x" + binding.attestation.uid.hex() == certificate["uid"]
    assert office["links"]["attestations"].endswith("/attestations?issuer=EM")


def test_proposals_filter_by_state_action_and_office(world: World) -> None:
    executed = world.get("/proposals", state="executed", limit=500).json()
    assert executed["total"] >= 5 and all(p["state"] == "executed" for p in executed["items"])
    waiting = world.get("/proposals", state="open", action="approve-schema").json()
    assert all(p["action"] == "approve-schema" for p in waiting["items"])
    about_fr = world.get("/proposals", office="FR").json()
    assert [p["action"] for p in about_fr["items"]] == ["suspend-office"]
    ids = [p["proposal_id"] for p in world.get("/proposals", limit=3).json()["items"]]
    assert ids == sorted(ids, reverse=True)  # newest first


def _dump(sessions: sessionmaker[Session]) -> dict[str, list[tuple[Any, ...]]]:
    with sessions() as session:
        return {
            table.name: sorted(tuple(row) for row in session.execute(select(table)).all())
            for table in INDEXED_TABLES
        }


def _fresh_index(tmp_path: Path, world: World) -> tuple[sessionmaker[Session], Indexer]:
    url = f"sqlite:///{tmp_path / 'again.db'}"
    upgrade(url)
    sessions = session_factory(make_engine(url))
    node = world.service.node
    indexer = Indexer(
        node.backend,
        node.deployment,
        sessions,
        node_handlers(node.backend, node.deployment),
        name="again",
        chunk_blocks=1_000_000,
    )
    return sessions, indexer


def test_one_range_gives_the_index_many_small_ranges_gave(world: World, tmp_path: Path) -> None:
    """In one range every event kind arrives in one group, groups one after the other (a
    revocation before the key's addition, an execution before its proposal...)."""
    world.wait_indexed()
    sessions, indexer = _fresh_index(tmp_path, world)
    indexer.run_once()
    assert _dump(sessions) == _dump(world.service.session_factory)


def test_rollback_then_reading_again_restores_the_index(world: World, tmp_path: Path) -> None:
    world.wait_indexed()
    sessions, indexer = _fresh_index(tmp_path, world)
    indexer.run_once()
    expected = _dump(sessions)
    with sessions() as session:
        suspension = session.scalar(
            select(office_status_history.c.block_number).where(
                office_status_history.c.status == "suspended"
            )
        )
    fork = int(suspension or 0) - 1
    with sessions() as session, session.begin():
        for rollback in indexer.handlers.rollbacks:
            rollback(session, fork)
        session.execute(
            update(indexer_checkpoints)
            .where(indexer_checkpoints.c.name == "again")
            .values(block_number=fork, block_hash=world.service.node.backend.get_block(fork).hash)
        )
    rolled_back = _dump(sessions)
    assert ("FR",) not in {(row[0],) for row in rolled_back["offices"] if row[2] == "suspended"}
    fr = [row for row in rolled_back["offices"] if row[0] == "FR"]
    assert fr and fr[0][2] == "active"  # its suspension undone
    assert all(row[4] is None for row in rolled_back["office_signers"])  # no revocation yet
    indexer.run_once()
    assert _dump(sessions) == expected


def _log(event: str, args: dict[str, Any], block: BlockInfo, index: int) -> DecodedLog:
    raw = LogEntry(
        address="0x" + "00" * 20,
        topics=(),
        data=b"",
        block_number=block.number,
        block_hash=block.hash,
        transaction_hash=bytes([index]) * 32,
        transaction_index=0,
        log_index=index,
    )
    return DecodedLog(event=event, args=args, log=raw)


def test_an_update_waits_for_the_row_it_updates_within_a_range(tmp_path: Path) -> None:
    """The indexer hands a range's logs to handlers event kind by event kind: a revocation
    may come before the addition it revokes. The result must not depend on that."""
    url = f"sqlite:///{tmp_path / 'order.db'}"
    upgrade(url)
    sessions = session_factory(make_engine(url))
    block = BlockInfo(
        number=7,
        hash=b"\x07" * 32,
        parent_hash=b"\x06" * 32,
        timestamp=1_700_000_000,
        transaction_hashes=(),
    )
    signer = "0x" + "ab" * 20
    uid = b"\x11" * 32
    added = _log("SignerAdded", {"code": b"EM", "signer": signer}, block, 1)
    revoked = _log("SignerRevoked", {"code": b"EM", "signer": signer}, block, 2)
    attested = _log(
        "Attested",
        {
            "uid": uid,
            "schema": b"\x22" * 32,
            "issuerOffice": b"EM",
            "subject": b"\x33" * 32,
            "claimHash": b"\x44" * 32,
            "expiresAt": 0,
            "refUid": b"\0" * 32,
            "attester": signer,
        },
        block,
        3,
    )
    withdrawn = _log(
        "Revoked",
        {"uid": uid, "issuerOffice": b"EM", "revokedAt": block.timestamp, "revoker": signer},
        block,
        4,
    )
    with sessions() as session, session.begin():
        _signer_revoked(session, revoked, block)  # before the key is known
        _revoked(session, withdrawn, block)  # before the attestation is known
        _signer_added(session, added, block)
        _attested(session, attested, block)
    with sessions() as session:
        key = session.execute(select(office_signers)).one()
        attestation = session.execute(select(attestations)).one()
    assert (key.office, key.added_block, key.revoked_block) == ("EM", 7, 7)
    assert attestation.revoked_block == 7 and attestation.revoked_at == block.timestamp
