"""Governance and attestations: proposals and votes, attestations and their validity, and the
governance side of an office.

Reads are public and come from the node's index. Writes act for the office the bearer token is
bound to: the node signs with that office's keys — its **admin** key proposes, votes and
executes, its **signer** key attests and revokes — and the contracts decide whether that
office may. A refusal is a problem response naming the contract's custom error
(``contract_error``) under a stable ``code`` (:data:`api.problems.CONTRACT_ERRORS`): ``403`` for
who may not, ``409`` for the state of the proposal or attestation, ``422`` for bad input.
"""

from __future__ import annotations

import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from api.deps import AuthenticatedOffice, BaseUrl, Limit, Offset, Service
from api.problems import PROBLEM_MEDIA_TYPE
from api.schemas import (
    AttestationCreate,
    AttestationOut,
    AttestationPage,
    OfficeDetail,
    Problem,
    ProposalCreate,
    ProposalOut,
    ProposalPage,
    SignerKey,
    StatusChange,
    Validity,
    VoteOut,
)
from ipchain.errors import InvalidInputError, NotFoundError
from ipchain.governance.actions import ProposalRequest
from ipchain.governance.dev_setup import office_certificate_path
from ipchain.governance.queries import (
    PROPOSAL_STATES,
    parse_hash,
    parse_subject,
    party_subject,
)
from ipchain.node.service import NodeService

router = APIRouter(tags=["governance"])

_PROBLEM = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}
_WRITE_PROBLEMS: dict[int | str, dict[str, object]] = {
    code: _PROBLEM for code in (401, 403, 404, 409, 422, 502, 503)
}

ProposalId = Annotated[
    int, Path(ge=0, le=2**63 - 1, description="Proposal id (sequential from 0).")
]
Uid = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="Attestation uid.")]


# --- proposals -------------------------------------------------------------------------------


@router.get(
    "/proposals", response_model=ProposalPage, summary="Proposals", responses={422: _PROBLEM}
)
def list_proposals(
    service: Service,
    base: BaseUrl,
    state: Annotated[
        str | None, Query(description=f"One of {', '.join(PROPOSAL_STATES)}.", max_length=16)
    ] = None,
    action: Annotated[
        str | None, Query(description="e.g. admit-office, suspend-office.", max_length=40)
    ] = None,
    office: Annotated[
        str | None, Query(description="Office concerned or proposing.", max_length=2)
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ProposalPage:
    """Governance proposals, newest first, with the votes that count and their state
    (``open`` until the deadline, ``executed`` once their action took effect, ``lapsed`` once
    their proposer left active or replaced its admin key, ``expired`` otherwise)."""
    page = service.governance_queries.proposals(
        service.governance_actions.chain_time(),
        state=state,
        action=action,
        office=office,
        limit=limit,
        offset=offset,
    )
    return ProposalPage(
        items=[ProposalOut.of(item, base) for item in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/proposals/{proposal_id}",
    response_model=ProposalOut,
    summary="One proposal",
    responses={404: _PROBLEM},
)
def get_proposal(proposal_id: ProposalId, service: Service, base: BaseUrl) -> ProposalOut:
    """One proposal with the offices that voted for it."""
    now = service.governance_actions.chain_time()
    return ProposalOut.of(service.governance_queries.proposal(proposal_id, now), base)


@router.post(
    "/proposals",
    status_code=status.HTTP_201_CREATED,
    response_model=ProposalOut,
    summary="Make a proposal",
    responses=_WRITE_PROBLEMS,
)
def create_proposal(
    body: ProposalCreate,
    response: Response,
    service: Service,
    caller: AuthenticatedOffice,
    base: BaseUrl,
) -> ProposalOut:
    """Propose a change as the token's office (its admin key); its vote counts at once. Only
    the admin of an active office may propose (``403 not-active-admin``)."""
    request = ProposalRequest.build(
        body.action,
        office=body.office,
        account=body.account,
        name=body.name,
        value=body.value,
        profile_hash=body.profile_hash,
        uid=body.uid,
    )
    proposal = service.governance_actions.propose(caller, request)
    response.headers["Location"] = f"{base}/proposals/{proposal.proposal_id}"
    return ProposalOut.of_chain(proposal, base)


@router.post(
    "/proposals/{proposal_id}/votes",
    status_code=status.HTTP_201_CREATED,
    response_model=VoteOut,
    summary="Vote for a proposal",
    responses=_WRITE_PROBLEMS,
)
def vote(
    proposal_id: ProposalId, service: Service, caller: AuthenticatedOffice, base: BaseUrl
) -> VoteOut:
    """Vote for a proposal as the token's office (its admin key). The vote that makes it pass
    executes it at once (``executed``). ``409`` for a second vote (``already-voted``), an
    expired or executed proposal."""
    outcome = service.governance_actions.vote(caller, proposal_id)
    return VoteOut(
        proposal_id=proposal_id,
        voter=caller,
        executed=outcome.executed,
        proposal=ProposalOut.of_chain(outcome.proposal, base),
    )


@router.post(
    "/proposals/{proposal_id}/execute",
    response_model=ProposalOut,
    summary="Execute a proposal that passed",
    responses=_WRITE_PROBLEMS,
)
def execute(
    proposal_id: ProposalId, service: Service, caller: AuthenticatedOffice, base: BaseUrl
) -> ProposalOut:
    """Apply a proposal that has the votes that count but was not executed (the electorate
    shrank). The votes decided, so any office may; its admin key pays."""
    return ProposalOut.of_chain(service.governance_actions.execute(caller, proposal_id), base)


# --- attestations ----------------------------------------------------------------------------


@router.get(
    "/attestations",
    response_model=AttestationPage,
    summary="Attestations",
    responses={422: _PROBLEM},
)
def list_attestations(
    service: Service,
    base: BaseUrl,
    subject: Annotated[
        str | None,
        Query(
            description="0x + 64 hex digits, an account address, or an ST.3 office code.",
            max_length=66,
        ),
    ] = None,
    party: Annotated[
        str | None,
        Query(description="A party identifier (matched by its keccak256).", max_length=1000),
    ] = None,
    issuer: Annotated[str | None, Query(description="Issuing office.", max_length=2)] = None,
    schema: Annotated[str | None, Query(description="Schema name or uid.", max_length=200)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> AttestationPage:
    """Attestations, newest first, by subject (or party identifier), issuing office and
    schema."""
    if subject is not None and party is not None:
        raise InvalidInputError("give subject or party, not both", field="party")
    wanted = parse_subject(subject) if subject is not None else None
    if party is not None:
        wanted = party_subject(party)
    queries = service.governance_queries
    page = queries.attestations(
        subject=wanted,
        issuer_office=issuer,
        schema_uid=queries.schema_uid(schema) if schema is not None else None,
        limit=limit,
        offset=offset,
    )
    return AttestationPage(
        items=[AttestationOut.of(item, base) for item in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/attestations/{uid}",
    response_model=AttestationOut,
    summary="One attestation and whether it held",
    responses={404: _PROBLEM, 422: _PROBLEM},
)
def get_attestation(
    uid: Uid,
    service: Service,
    base: BaseUrl,
    at: Annotated[
        datetime.datetime | None,
        Query(description="Judge validity at this moment (ISO 8601 or Unix seconds)."),
    ] = None,
    block: Annotated[int | None, Query(ge=0, description="Judge validity at this block.")] = None,
) -> AttestationOut:
    """One attestation, and whether it held (``validity``) at ``at``, at block ``block``, or
    at the latest block: issued, not revoked (by its issuer or by a consortium vote), not
    expired, its issuer not removed since it was issued and active then — the contract's
    ``validityAt`` rule. At a block, issuance, revocation and the issuer's status changes are
    judged by block number."""
    if at is not None and block is not None:
        raise InvalidInputError("give at or block, not both", field="block")
    view = service.governance_queries.attestation(parse_hash(uid, "uid"))
    backend = service.node.backend
    if at is not None:
        moment = at if at.tzinfo is not None else at.replace(tzinfo=datetime.UTC)
        timestamp, judged_block = int(moment.timestamp()), None
    else:
        head = backend.block_number()
        judged_block = head if block is None else block
        if judged_block > head:
            raise InvalidInputError(
                f"block {judged_block} is after the chain head {head}", field="block"
            )
        timestamp = backend.get_block(judged_block).timestamp
    verdict = view.status_at(timestamp, judged_block)
    validity = Validity(
        at=datetime.datetime.fromtimestamp(timestamp, datetime.UTC),
        block=judged_block,
        status=verdict.value,
        valid=verdict.value == "valid",
    )
    return AttestationOut.of(view, base, validity)


@router.post(
    "/attestations",
    status_code=status.HTTP_201_CREATED,
    response_model=AttestationOut,
    summary="Issue an attestation",
    responses=_WRITE_PROBLEMS,
)
def create_attestation(
    body: AttestationCreate,
    response: Response,
    service: Service,
    caller: AuthenticatedOffice,
    base: BaseUrl,
) -> AttestationOut:
    """Attest a claim as the token's office (its signer key signs; the claim is checked
    against the schema first, and only its SHA-256 goes on-chain). An
    ``ipchain/office-certificate/v1`` attestation needs the ``certificate`` (PEM) it binds,
    issued by the consortium CA, valid, and naming the office."""
    expires_at = body.expires_at
    if isinstance(expires_at, datetime.datetime):
        moment = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=datetime.UTC)
        expires_at = int(moment.timestamp())
    issued = service.governance_actions.attest(
        caller,
        body.schema_name,
        body.claim,
        expires_at=expires_at,
        ref_uid=parse_hash(body.ref_uid, "ref_uid") if body.ref_uid is not None else None,
        certificate=body.certificate,
    )
    uid = "0x" + issued.attestation.uid.hex()
    response.headers["Location"] = f"{base}/attestations/{uid}"
    return AttestationOut.of_chain(
        issued.attestation, base, schema_name=issued.schema.name, claim=dict(issued.claim)
    )


@router.post(
    "/attestations/{uid}/revoke",
    response_model=AttestationOut,
    summary="Revoke an attestation",
    responses=_WRITE_PROBLEMS,
)
def revoke_attestation(
    uid: Uid, service: Service, caller: AuthenticatedOffice, base: BaseUrl
) -> AttestationOut:
    """Revoke an attestation of the token's office (its signer key). Only the issuing office
    may (``403 not-issuer``), and only while it is active; it stays readable, and is no
    longer valid from the revocation on."""
    revoked = service.governance_actions.revoke(caller, parse_hash(uid, "uid"))
    return AttestationOut.of_chain(revoked, base)


# --- offices ---------------------------------------------------------------------------------


def office_detail(service: NodeService, office: OfficeDetail, base: str) -> OfficeDetail:
    """``office`` with what the index knows of its governance: status history, signer keys
    (revoked ones too) and certificate attestation. Used by ``GET /offices/{office}``."""
    links = {
        **office.links,
        "attestations": f"{base}/attestations?issuer={office.code}",
        "proposals": f"{base}/proposals?office={office.code}",
    }
    certificate = office_certificate_path(service.settings.data_dir, office.code)
    try:
        view = service.governance_queries.office(
            office.code,
            service.governance_actions.chain_time(),
            certificate_pem=certificate.read_bytes() if certificate.exists() else None,
        )
    except NotFoundError:  # admitted moments ago: the index has not read it yet
        return office.model_copy(update={"links": links})
    return office.model_copy(
        update={
            "links": links,
            "admitted_block": view.admitted_block,
            "status_history": [StatusChange.of(step) for step in view.history],
            "signer_keys": [SignerKey.of(signer) for signer in view.signers],
            "certificate": (
                AttestationOut.of(view.certificate, base) if view.certificate is not None else None
            ),
        }
    )
