"""AttestationRegistry through ipchain.attestations: schemas approved by vote, claims checked
against them, attest/revoke/validity (now and at a past block or time), and EIP-712
delegated attestations relayed by anyone."""

from __future__ import annotations

import itertools

import pytest
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address

from ipchain.attestations import (
    ATTEST_TYPES,
    OFFICE_CERTIFICATE_SCHEMA,
    PARTY_IDENTITY_SCHEMA,
    AttestationSchema,
    AttestationStatus,
    approve_schemas,
    build_request,
    party_subject,
    sign_attestation,
    typed_data,
)
from ipchain.contracts.office_registry import Governance, ProposalState
from ipchain.encoding import document_hash
from ipchain.errors import (
    ContractRevertError,
    InvalidInputError,
    NotFoundError,
    VerificationError,
)
from tests.helpers.consortium import Consortium
from tests.helpers.governance import (
    advance_time,
    approve_standard_schemas,
    attestations,
    expect_revert,
    governance,
    latest_timestamp,
    pass_proposal,
)

_numbers = itertools.count(1)


def applicant(office: str = "EM") -> dict[str, str]:
    return {
        "party_id": f"{office}:applicant:{next(_numbers)}",
        "role": "applicant",
        "name": "Example Trading Ltd",
        "office_code": office,
        "country_code": "GB",
    }


@pytest.fixture
def approved(consortium: Consortium) -> Consortium:
    """A consortium of its own, for tests that change membership."""
    approve_standard_schemas(consortium)
    return consortium


# ------------------------------------------------------------------------------ schemas


def test_schema_uid_is_keccak_of_the_definition_approved_on_chain(shared: Consortium) -> None:
    gov = governance(shared)
    for schema in (OFFICE_CERTIFICATE_SCHEMA, PARTY_IDENTITY_SCHEMA):
        assert schema.uid == keccak(schema.definition.encode())
        definition = gov.schema_definition(schema.uid)
        assert definition == schema.definition
        assert AttestationSchema.from_definition(definition) == schema


def test_claim_is_normalised_and_hashed_over_its_canonical_bytes() -> None:
    claim = {
        "office_code": "EM",
        "certificate_sha256": "0x" + "ab" * 32,
        "accounts": ["0x" + "cd" * 20, "0x" + "0a" * 20],
    }
    normal = OFFICE_CERTIFICATE_SCHEMA.validate_claim(claim)
    # Checksummed, and sorted so that the same set of accounts always hashes the same.
    assert normal["accounts"] == [to_checksum_address("0x" + h * 20) for h in ("0a", "cd")]
    assert OFFICE_CERTIFICATE_SCHEMA.claim_hash(claim) == document_hash(normal)
    assert OFFICE_CERTIFICATE_SCHEMA.subject_of(claim) == b"EM" + bytes(30)
    assert PARTY_IDENTITY_SCHEMA.subject_of(applicant() | {"party_id": "X1"}) == keccak(b"X1")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"role": "designer"}, "role"),
        ({"office_code": "em"}, "office_code"),
        ({"office_code": "EUR"}, "office_code"),
        ({"country_code": 44}, "country_code"),
        ({"name": " "}, "name"),
        ({"checked_on": "2024-02-30"}, "checked_on"),
        ({"nickname": "Ex"}, "nickname"),
        ({"party_id": None}, "party_id"),
    ],
    ids=[
        "enum",
        "lowercase-office",
        "long-office",
        "number",
        "blank",
        "bad-date",
        "extra",
        "missing",
    ],
)
def test_claim_that_does_not_match_its_schema_writes_nothing(
    shared: Consortium, change: dict[str, object], field: str
) -> None:
    registry = attestations(shared)
    count = registry._call("attestationCount")
    claim = applicant() | change
    with pytest.raises(InvalidInputError) as error:
        registry.attest(shared.signers["EM"], PARTY_IDENTITY_SCHEMA, claim)
    assert error.value.field == field
    assert registry._call("attestationCount") == count


def test_unknown_schema_is_refused_by_the_contract(shared: Consortium) -> None:
    unapproved = AttestationSchema(
        name="test/unapproved/v1",
        description="never voted on",
        subject_kind="party",
        subject_field="party_id",
        fields={"party_id": "string"},
    )
    registry = attestations(shared)
    with pytest.raises(ContractRevertError) as error:
        registry.attest(shared.signers["EM"], unapproved, {"party_id": "P1"})
    assert expect_revert(error, "AttestationUnknownSchema") == (unapproved.uid,)


# ------------------------------------------------------------------------------ attest, revoke


def test_attest_then_revoke_shows_in_queries_now_and_at_past_blocks(shared: Consortium) -> None:
    registry = attestations(shared)
    em = shared.signers["EM"]
    claim = applicant()
    made = registry.attest(em, PARTY_IDENTITY_SCHEMA, claim)
    issued_block = shared.backend.block_number()
    assert (made.issuer_office, made.attester, made.schema_uid) == (
        "EM",
        em.address,
        PARTY_IDENTITY_SCHEMA.uid,
    )
    assert made.claim_hash == PARTY_IDENTITY_SCHEMA.claim_hash(claim)
    assert made.subject == party_subject(claim["party_id"])
    assert (made.expires_at, made.revoked_at, made.ref_uid) == (None, None, None)
    assert registry.is_valid(made.uid)
    found = registry.find(schema=PARTY_IDENTITY_SCHEMA, issuer_office="EM", subject=made.subject)
    assert found == [made]
    assert registry.find(issuer_office="AU") == []

    revoked = registry.revoke(em, made.uid)
    assert revoked.revoked_at is not None and revoked.revoked_at >= made.issued_at
    assert not registry.is_valid(made.uid)
    assert registry.status_at(made.uid) is AttestationStatus.REVOKED
    assert registry.status_at(made.uid, block_number=issued_block) is AttestationStatus.VALID
    assert registry.status_at(made.uid, block_number=issued_block - 1) is (
        AttestationStatus.NOT_YET_ISSUED
    )
    assert not registry.is_valid_at(made.uid, revoked.revoked_at)
    with pytest.raises(ContractRevertError) as error:
        registry.revoke(em, made.uid)
    assert expect_revert(error, "AttestationAlreadyRevoked") == (made.uid,)


def test_verify_checks_schema_claim_and_validity_at_a_block(shared: Consortium) -> None:
    registry = attestations(shared)
    claim = applicant()
    made = registry.attest(shared.signers["RU"], PARTY_IDENTITY_SCHEMA, claim)
    block = shared.backend.block_number()
    assert registry.verify(made.uid, PARTY_IDENTITY_SCHEMA, claim) == made
    with pytest.raises(VerificationError, match="another claim"):
        registry.verify(made.uid, PARTY_IDENTITY_SCHEMA, claim | {"name": "Someone Else"})
    with pytest.raises(VerificationError, match="is not a"):
        registry.verify(made.uid, OFFICE_CERTIFICATE_SCHEMA, claim)
    with pytest.raises(VerificationError, match="did not exist"):
        registry.verify(made.uid, PARTY_IDENTITY_SCHEMA, claim, block_number=block - 1)
    registry.revoke(shared.signers["RU"], made.uid)
    with pytest.raises(VerificationError, match="revoked"):
        registry.verify(made.uid, PARTY_IDENTITY_SCHEMA, claim)
    assert registry.verify(made.uid, PARTY_IDENTITY_SCHEMA, claim, block_number=block) == made


def test_validity_at_a_past_time_survives_revocation(shared: Consortium) -> None:
    registry = attestations(shared)
    em = shared.signers["EM"]
    made = registry.attest(em, PARTY_IDENTITY_SCHEMA, applicant())
    advance_time(shared.backend, 10)  # blocks of one second may share a timestamp
    revoked = registry.revoke(em, made.uid)
    assert revoked.revoked_at is not None and revoked.revoked_at >= made.issued_at + 10
    assert not registry.is_valid_at(made.uid, made.issued_at - 1)
    assert registry.is_valid_at(made.uid, made.issued_at)
    assert registry.is_valid_at(made.uid, revoked.revoked_at - 1)
    assert not registry.is_valid_at(made.uid, revoked.revoked_at)
    assert revoked.status_at(revoked.revoked_at - 1) is AttestationStatus.VALID


def test_reference_expiry_and_unknown_uids(shared: Consortium) -> None:
    registry = attestations(shared)
    em = shared.signers["EM"]
    base = registry.attest(em, PARTY_IDENTITY_SCHEMA, applicant())
    linked = registry.attest(em, PARTY_IDENTITY_SCHEMA, applicant(), ref_uid=base.uid)
    assert linked.ref_uid == base.uid
    missing = b"\x42" * 32
    with pytest.raises(ContractRevertError) as error:
        registry.attest(em, PARTY_IDENTITY_SCHEMA, applicant(), ref_uid=missing)
    assert expect_revert(error, "AttestationUnknownReference") == (missing,)
    past = latest_timestamp(shared.backend)
    with pytest.raises(ContractRevertError) as error:
        registry.attest(em, PARTY_IDENTITY_SCHEMA, applicant(), expires_at=past)
    expect_revert(error, "AttestationInvalidExpiry")
    with pytest.raises(NotFoundError):
        registry.get(missing)
    with pytest.raises(ContractRevertError) as error:
        registry.revoke(em, missing)
    expect_revert(error, "AttestationNotFound")
    assert not registry.is_valid(missing)


def test_attestation_expires_at_its_time(shared: Consortium) -> None:
    registry = attestations(shared)
    expires = latest_timestamp(shared.backend) + 100
    made = registry.attest(
        shared.signers["AU"], PARTY_IDENTITY_SCHEMA, applicant("AU"), expires_at=expires
    )
    block = shared.backend.block_number()
    assert registry.is_valid(made.uid) and made.expires_at == expires
    advance_time(shared.backend, 200)
    assert not registry.is_valid(made.uid)
    assert registry.status_at(made.uid) is AttestationStatus.EXPIRED
    assert registry.status_at(made.uid, block_number=block) is AttestationStatus.VALID
    assert registry.is_valid_at(made.uid, expires - 1)
    assert not registry.is_valid_at(made.uid, expires)


# ------------------------------------------------------------------------------ EIP-712


def test_typed_data_hash_matches_the_contract_digest(shared: Consortium) -> None:
    registry = attestations(shared)
    request = build_request(PARTY_IDENTITY_SCHEMA, applicant(), expires_at=2**40)
    signer = shared.signers["EM"].address
    domain, types, message = typed_data(
        shared.backend.chain_id, registry.address, request, signer, 7, 2**33
    )
    signable = encode_typed_data(domain, types, message)
    python_digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    (contract_digest,) = registry._call("attestDigest", request.as_tuple(), signer, 7, 2**33)
    assert python_digest == contract_digest
    type_string = "Attest(" + ",".join(f"{f['type']} {f['name']}" for f in ATTEST_TYPES["Attest"])
    assert registry._call("ATTEST_TYPEHASH") == (keccak(text=type_string + ")"),)


def test_relayed_attestation_is_the_signers_and_cannot_be_replayed(shared: Consortium) -> None:
    registry = attestations(shared)
    em = shared.signers["EM"]
    request = build_request(PARTY_IDENTITY_SCHEMA, applicant())
    nonce = registry.nonce_of(em.address)
    signed = registry.sign(em, request, deadline=latest_timestamp(shared.backend) + 600)
    assert signed.nonce == nonce
    made = registry.relay(shared.outsider, signed)  # anyone may pay for the relay
    assert (made.attester, made.issuer_office) == (em.address, "EM")
    assert made.claim_hash == request.claim_hash and registry.is_valid(made.uid)
    assert registry.nonce_of(em.address) == nonce + 1
    with pytest.raises(ContractRevertError) as error:
        registry.relay(shared.outsider, signed)
    assert expect_revert(error, "AttestationInvalidNonce") == (em.address, nonce + 1)
    later = latest_timestamp(shared.backend) + 600
    second = registry.relay(shared.signers["AU"], registry.sign(em, request, deadline=later))
    assert second.uid != made.uid and registry.nonce_of(em.address) == nonce + 2


def test_relays_with_a_bad_signature_deadline_or_chain_are_refused(shared: Consortium) -> None:
    registry = attestations(shared)
    em, au = shared.signers["EM"], shared.signers["AU"]
    request = build_request(PARTY_IDENTITY_SCHEMA, applicant())
    now = latest_timestamp(shared.backend)
    relayer = shared.outsider
    nonce = registry.nonce_of(em.address)

    expired = registry.sign(em, request, deadline=now - 1)
    with pytest.raises(ContractRevertError) as error:
        registry.relay(relayer, expired)
    assert expect_revert(error, "AttestationExpiredDeadline") == (now - 1,)

    by_au = registry.sign(au, request, deadline=now + 600)
    claims_em = type(by_au)(request, em.address, nonce, now + 600, by_au.signature)
    with pytest.raises(ContractRevertError) as error:
        registry.relay(relayer, claims_em)
    assert expect_revert(error, "AttestationInvalidSignature") == (em.address,)

    other_chain = sign_attestation(
        em,
        request,
        chain_id=shared.backend.chain_id + 1,
        registry_address=registry.address,
        nonce=nonce,
        deadline=now + 600,
    )
    with pytest.raises(ContractRevertError) as error:
        registry.relay(relayer, other_chain)
    expect_revert(error, "AttestationInvalidSignature")

    other_contract = sign_attestation(
        em,
        request,
        chain_id=shared.backend.chain_id,
        registry_address=shared.deployment.address("RegisterLedger"),
        nonce=nonce,
        deadline=now + 600,
    )
    with pytest.raises(ContractRevertError) as error:
        registry.relay(relayer, other_contract)
    expect_revert(error, "AttestationInvalidSignature")

    unsigned = type(by_au)(request, em.address, nonce, now + 600, b"")
    with pytest.raises(ContractRevertError) as error:
        registry.relay(relayer, unsigned)
    expect_revert(error, "AttestationInvalidSignature")

    by_outsider = registry.sign(shared.outsider, request, deadline=now + 600)
    with pytest.raises(ContractRevertError) as error:
        registry.relay(em, by_outsider)
    assert expect_revert(error, "AttestationUnauthorizedOffice") == (shared.outsider.address,)
    # None of the refused relays used up the signer's nonce.
    assert registry.nonce_of(em.address) == nonce
    assert registry.relay(relayer, registry.sign(em, request, deadline=now + 600)).attester == (
        em.address
    )


def test_signature_of_an_office_suspended_before_relay_is_refused(approved: Consortium) -> None:
    registry = attestations(approved)
    gov: Governance = governance(approved)
    au = approved.signers["AU"]
    request = build_request(PARTY_IDENTITY_SCHEMA, applicant("AU"))
    signed = registry.sign(au, request, deadline=latest_timestamp(approved.backend) + 600)
    admins = approved.admins
    pass_proposal(gov, gov.propose_suspend_office(admins["EM"], "AU"), [admins["RU"]])
    with pytest.raises(ContractRevertError) as error:
        registry.relay(approved.outsider, signed)
    assert expect_revert(error, "AttestationUnauthorizedOffice") == (au.address,)


def test_approving_schemas_needs_enough_admin_votes(consortium: Consortium) -> None:
    gov = governance(consortium)
    with pytest.raises(InvalidInputError, match="do not pass"):
        approve_schemas(gov, [consortium.admins["EM"]])  # 1 vote of 3
    (open_proposal,) = gov.list_proposals()
    assert open_proposal.state is ProposalState.OPEN
    assert gov.schema_definition(OFFICE_CERTIFICATE_SCHEMA.uid) is None
