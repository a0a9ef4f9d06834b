"""Attestations through the API: issued, found by subject, party, issuer and schema, judged
valid or not at a time or a block (expiry and revocation visible), and bad input refused with
a clear problem and nothing written on the chain."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ipchain.attestations import OFFICE_CERTIFICATE_SCHEMA, PARTY_IDENTITY_SCHEMA
from ipchain.contracts.bindings import call_function
from ipchain.governance.dev_setup import (
    load_or_create_demo_ca,
    office_certificate_path,
)
from ipchain.keys import create_consortium_ca, issue_office_certificate
from ipchain.node.setup import keystore_password
from tests.governance_api.conftest import World, party_claim

PARTY = PARTY_IDENTITY_SCHEMA.name


def issue(world: World, office: str, claim: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = world.post("/attestations", office, {"schema": PARTY, "claim": claim, **extra})
    assert response.status_code == 201, response.text
    assert response.headers["Location"].endswith(response.json()["uid"])
    made: dict[str, Any] = response.json()
    return made


def validity(world: World, uid: str, **params: Any) -> dict[str, Any]:
    response = world.get(f"/attestations/{uid}", **params)
    assert response.status_code == 200, response.text
    judged: dict[str, Any] = response.json()["validity"]
    return judged


def on_chain_at(world: World, uid: str, timestamp: int) -> bool:
    registry = world.service.governance_actions.attestations
    return registry.is_valid_at(bytes.fromhex(uid[2:]), timestamp)


# --- issue and find --------------------------------------------------------------------------


def test_issued_attestations_are_found_by_subject_party_issuer_and_schema(world: World) -> None:
    claim = party_claim("AU")
    made = issue(world, "AU", claim)
    assert made["claim"] == claim and made["schema_name"] == PARTY
    assert made["attester"] == world.signer("AU").address  # the signer, though relayed
    world.wait_indexed()

    by_party = world.get("/attestations", party=claim["party_id"]).json()
    assert [item["uid"] for item in by_party["items"]] == [made["uid"]]
    item = by_party["items"][0]
    assert item["claim"] == claim  # the node keeps the documents it issued
    assert item["issued_block"] > 0 and item["transaction_hash"].startswith("0x")
    by_subject = world.get("/attestations", subject=made["subject"]).json()
    assert by_subject["total"] == 1
    by_issuer = world.get("/attestations", issuer="AU", schema=PARTY).json()
    assert made["uid"] in [item["uid"] for item in by_issuer["items"]]
    assert all(item["issuer_office"] == "AU" for item in by_issuer["items"])
    by_uid = world.get("/attestations", schema="0x" + PARTY_IDENTITY_SCHEMA.uid.hex()).json()
    assert by_uid["total"] == world.get("/attestations", schema=PARTY).json()["total"]
    certificates = world.get("/attestations", subject="EM", schema=OFFICE_CERTIFICATE_SCHEMA.name)
    assert [item["issuer_office"] for item in certificates.json()["items"]] == ["EM"]


def test_office_certificate_binding_through_the_api(world: World) -> None:
    pem = office_certificate_path(world.service.settings.data_dir, "AU").read_text()
    response = world.post(
        "/attestations", "AU", {"schema": OFFICE_CERTIFICATE_SCHEMA.name, "certificate": pem}
    )
    assert response.status_code == 201, response.text
    made = response.json()
    # Without a claim the office's admin and current signer keys are bound, until the
    # certificate expires.
    accounts = sorted([world.admin("AU").address, world.signer("AU").address], key=str.lower)
    assert made["claim"]["accounts"] == accounts
    assert made["expires_at"] is not None
    world.wait_indexed()
    office = world.get("/offices/AU").json()
    assert office["certificate"]["uid"] == made["uid"]
    assert office["certificate"]["certificate"].strip() == pem.strip()


# --- validity at a time or a block -----------------------------------------------------------


def test_expiry_is_visible_at_times_and_blocks(small_world: World) -> None:
    world = small_world
    expires = world.chain_time() + 100
    made = issue(world, "EM", party_claim("EM"), expires_at=expires)
    world.wait_indexed()
    issued_block = world.get(f"/attestations/{made['uid']}").json()["issued_block"]
    issued_at = int(dt.datetime.fromisoformat(made["issued_at"]).timestamp())

    assert validity(world, made["uid"])["status"] == "valid"
    assert validity(world, made["uid"], block=issued_block - 1)["status"] == "not-yet-issued"
    world.advance_time(200)
    world.wait_indexed()
    now = validity(world, made["uid"])
    assert now["status"] == "expired" and not now["valid"]
    assert validity(world, made["uid"], block=issued_block)["status"] == "valid"
    for moment, status in (
        (issued_at - 1, "not-yet-issued"),
        (issued_at + 50, "valid"),
        (expires - 1, "valid"),
        (expires, "expired"),
    ):
        judged = validity(world, made["uid"], at=moment)
        assert judged["status"] == status, moment
        assert judged["valid"] == on_chain_at(world, made["uid"], moment)  # isValidAt agrees
    iso = dt.datetime.fromtimestamp(issued_at + 50, dt.UTC).isoformat()
    assert validity(world, made["uid"], at=iso)["status"] == "valid"


def test_revocation_is_visible_from_its_block_on(small_world: World) -> None:
    world = small_world
    made = issue(world, "EM", party_claim("EM"))
    world.advance_time(30)
    revoked = world.post(f"/attestations/{made['uid']}/revoke", "EM")
    assert revoked.status_code == 200, revoked.text
    revoked_at = int(dt.datetime.fromisoformat(revoked.json()["revoked_at"]).timestamp())
    world.wait_indexed()
    stored = world.get(f"/attestations/{made['uid']}").json()
    assert stored["revoked_block"] > stored["issued_block"]
    assert stored["revoker"] == world.signer("EM").address
    assert stored["validity"]["status"] == "revoked"
    assert validity(world, made["uid"], block=stored["revoked_block"] - 1)["status"] == "valid"
    assert validity(world, made["uid"], block=stored["revoked_block"])["status"] == "revoked"
    assert validity(world, made["uid"], at=revoked_at - 1)["valid"]
    assert not on_chain_at(world, made["uid"], revoked_at)
    assert validity(world, made["uid"], at=revoked_at)["status"] == "revoked"
    again = world.post(f"/attestations/{made['uid']}/revoke", "EM")
    assert again.status_code == 409 and again.json()["code"] == "already-revoked"


def test_validity_query_refuses_what_it_cannot_judge(world: World) -> None:
    made = issue(world, "EM", party_claim("EM"))
    world.wait_indexed()
    uid = made["uid"]
    head = world.service.node.backend.block_number()
    for params, field in (
        ({"block": head + 1_000}, "block"),
        ({"block": 1, "at": 1}, "block"),
        ({"at": "yesterday"}, "at"),
    ):
        response = world.get(f"/attestations/{uid}", **params)
        assert response.status_code == 422, params
        assert response.json()["field"] == field
    assert world.get("/attestations/0x1234").status_code == 422
    missing = world.get(f"/attestations/0x{'ab' * 32}")
    assert missing.status_code == 404 and missing.json()["code"] == "not-found"


# --- bad input -------------------------------------------------------------------------------


def _other_ca_certificate(office: str) -> str:
    ca_pem, ca_key = create_consortium_ca("Not the consortium", 30)
    pem, _key = issue_office_certificate(ca_pem, ca_key, office, "Impostor", 30)
    return pem.decode()


def _expired_certificate(world: World, office: str) -> str:
    settings = world.service.settings
    ca_pem, ca_key = load_or_create_demo_ca(settings.data_dir, keystore_password(settings))
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    pem, _key = issue_office_certificate(ca_pem, ca_key, office, "EUIPO", 1, not_before=start)
    return pem.decode()


def _em_certificate(world: World) -> str:
    return office_certificate_path(world.service.settings.data_dir, "EM").read_text()


def _au_certificate(world: World) -> str:
    return office_certificate_path(world.service.settings.data_dir, "AU").read_text()


CERTIFICATE = OFFICE_CERTIFICATE_SCHEMA.name
BAD_ATTESTATIONS: list[tuple[str, Any, str, str]] = [
    ("unknown schema name", {"schema": "acme/loyalty/v1", "claim": {}}, "unknown-schema", "schema"),
    ("unknown schema uid", {"schema": "0x" + "12" * 32, "claim": {}}, "unknown-schema", "schema"),
    ("no schema", {"claim": {"a": "b"}}, "invalid-input", "schema"),
    (
        "claim lacks a field",
        {"schema": PARTY, "claim": {"party_id": "p", "role": "applicant", "office_code": "EM"}},
        "invalid-input",
        "claim.name",
    ),
    (
        "claim has an extra field",
        {"schema": PARTY, "claim": {**party_claim("EM"), "nickname": "x"}},
        "invalid-input",
        "claim.nickname",
    ),
    (
        "claim field of the wrong kind",
        {"schema": PARTY, "claim": {**party_claim("EM"), "role": "owner"}},
        "invalid-input",
        "claim.role",
    ),
    (
        "claim names an office code that is not ST.3-shaped",
        {"schema": PARTY, "claim": {**party_claim("EM"), "office_code": "em"}},
        "invalid-input",
        "claim.office_code",
    ),
    ("no claim", {"schema": PARTY}, "invalid-input", "claim"),
    (
        "expiry in the past",
        {"schema": PARTY, "claim": party_claim("EM"), "expires_at": 1_000},
        "invalid-input",
        "expires_at",
    ),
    (
        "unknown reference",
        {"schema": PARTY, "claim": party_claim("EM"), "ref_uid": "0x" + "cd" * 32},
        "invalid-input",
        "",
    ),
    ("certificate missing", {"schema": CERTIFICATE}, "invalid-certificate", "certificate"),
    (
        "malformed certificate",
        {"schema": CERTIFICATE, "certificate": "-----BEGIN CERTIFICATE-----\nnope\n"},
        "invalid-certificate",
        "certificate",
    ),
    ("certificate from another CA", "other-ca", "invalid-certificate", "certificate"),
    ("expired certificate", "expired", "invalid-certificate", "certificate"),
    ("another office's certificate", "au", "invalid-certificate", "certificate"),
    (
        "claim not naming the certificate",
        "wrong-claim",
        "invalid-input",
        "claim.certificate_sha256",
    ),
    (
        "certificate with a party claim",
        {"schema": PARTY, "claim": party_claim("EM"), "certificate": "x"},
        "invalid-input",
        "certificate",
    ),
    ("unknown member", {"schema": PARTY, "claim": {}, "color": "red"}, "invalid-input", "color"),
]


def _body(world: World, body: Any) -> Any:
    if body == "other-ca":
        return {"schema": CERTIFICATE, "certificate": _other_ca_certificate("EM")}
    if body == "expired":
        return {"schema": CERTIFICATE, "certificate": _expired_certificate(world, "EM")}
    if body == "au":
        return {"schema": CERTIFICATE, "certificate": _au_certificate(world)}
    if body == "wrong-claim":
        claim = {
            "office_code": "EM",
            "certificate_sha256": "0x" + "00" * 32,
            "accounts": [world.signer("EM").address],
        }
        return {"schema": CERTIFICATE, "certificate": _em_certificate(world), "claim": claim}
    return body


def chain_writes(world: World) -> tuple[int, ...]:
    """What writing would change: EM's key nonces and the registries' counters."""
    backend = world.service.node.backend
    registry = world.service.governance_actions.attestations
    (count,) = call_function(backend, registry.contract, registry.address, "attestationCount")
    return (
        backend.get_nonce(world.admin("EM").address),
        backend.get_nonce(world.signer("EM").address),
        int(count),
        world.governance.proposal_count(),
    )


@pytest.mark.parametrize(
    ("case", "body", "code", "field"), BAD_ATTESTATIONS, ids=[case[0] for case in BAD_ATTESTATIONS]
)
def test_bad_attestations_are_refused_and_nothing_is_written(
    world: World, case: str, body: Any, code: str, field: str
) -> None:
    before = chain_writes(world)
    response = world.post("/attestations", "EM", _body(world, body))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == code, problem
    if field:
        assert problem["field"] == field, problem
    assert problem["detail"]
    assert chain_writes(world) == before


BAD_PROPOSALS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "office code in lower case",
        {"action": "suspend-office", "office": "au"},
        "unknown-office",
        "office",
    ),
    (
        "office code with a digit",
        {"action": "suspend-office", "office": "A1"},
        "unknown-office",
        "office",
    ),
    (
        "office code too long",
        {"action": "remove-office", "office": "AUS"},
        "unknown-office",
        "office",
    ),
    (
        "admission of a code that is not ST.3-shaped",
        {"action": "admit-office", "office": "m1", "account": "0x" + "11" * 20, "name": "X"},
        "unknown-office",
        "office",
    ),
    ("unknown action", {"action": "dissolve-consortium"}, "invalid-input", "action"),
    ("no office", {"action": "suspend-office"}, "invalid-input", "office"),
    ("no account", {"action": "add-signer", "office": "EM"}, "invalid-input", "account"),
    (
        "malformed account",
        {"action": "add-signer", "office": "EM", "account": "0x1234"},
        "invalid-input",
        "account",
    ),
    (
        "threshold out of range",
        {"action": "change-threshold", "value": 10_000},
        "invalid-input",
        "value",
    ),
    ("empty schema", {"action": "approve-schema", "name": " "}, "invalid-input", "name"),
    (
        "argument the action does not take",
        {"action": "suspend-office", "office": "AU", "value": 5},
        "invalid-input",
        "value",
    ),
    ("office not a member", {"action": "suspend-office", "office": "ZZ"}, "unknown-office", ""),
    (
        "office already a member",
        {
            "action": "admit-office",
            "office": "AU",
            "account": "0x" + "22" * 20,
            "name": "IP Australia",
        },
        "conflict",
        "",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "code", "field"), BAD_PROPOSALS, ids=[case[0] for case in BAD_PROPOSALS]
)
def test_bad_proposals_are_refused_and_nothing_is_written(
    world: World, case: str, body: dict[str, Any], code: str, field: str
) -> None:
    before = chain_writes(world)
    response = world.post("/proposals", "EM", body)
    assert response.status_code in (409, 422), response.text
    problem = response.json()
    assert problem["code"] == code, problem
    if field:
        assert problem["field"] == field, problem
    assert chain_writes(world) == before


def test_query_filters_refuse_malformed_values(world: World) -> None:
    for path, params, field in (
        ("/attestations", {"issuer": "e1"}, "issuer"),
        ("/attestations", {"subject": "EMX"}, "subject"),
        ("/attestations", {"schema": "acme/v1"}, "schema"),
        ("/attestations", {"subject": "EM", "party": "p"}, "party"),
        ("/proposals", {"state": "pending"}, "state"),
        ("/proposals", {"office": "e1"}, "office"),
        ("/proposals", {"limit": 0}, "limit"),
    ):
        response = world.get(path, **params)
        assert response.status_code == 422, (path, params)
        assert response.json()["field"] == field, response.json()
