"""``ipchain propose | vote | attest | revoke``: governance and attestations from the command
line, acting for one office (``--as XX``) with its keys from the node's keystore.

Each command opens the node (chain and keystore), does one thing through
:class:`ipchain.governance.actions.GovernanceActions` — the same checks and the same contract
pre-flight as the API — and returns the lines to print. Errors are :class:`IpchainError`\\ s,
which the CLI prints as one line with exit code 2.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ipchain.config import Settings
from ipchain.contracts.office_registry import ProposalAction, ProposalView
from ipchain.db.base import make_engine, session_factory, upgrade
from ipchain.encoding import parse_json_strict
from ipchain.errors import InvalidInputError
from ipchain.governance.actions import GovernanceActions, ProposalRequest
from ipchain.governance.queries import GovernanceQueries, parse_hash
from ipchain.node.setup import Node


@contextmanager
def _actions(settings: Settings) -> Iterator[GovernanceActions]:
    """The node's governance writes; with its index when it has one (schema names, claim
    documents kept for ``GET /attestations``)."""
    node = Node.open(settings)
    engine = None
    try:
        queries = None
        if settings.database_url or (settings.data_dir / "index.db").exists():
            url = settings.resolved_database_url()
            upgrade(url)
            engine = make_engine(url)
            queries = GovernanceQueries(session_factory(engine))
        yield GovernanceActions(
            node.backend,
            node.deployment,
            node.keystore,
            node.office_key,
            settings.data_dir,
            queries,
        )
    finally:
        if engine is not None:
            engine.dispose()
        node.close()


def _when(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _describe(proposal: ProposalView) -> str:
    action = proposal.action.name.lower().replace("_", "-")
    target = " ".join(part for part in (proposal.office or "", proposal.account or "") if part)
    if proposal.action is ProposalAction.CHANGE_THRESHOLD:
        target = f"{proposal.value} bps"
    if proposal.action is ProposalAction.APPROVE_SCHEMA:
        target = f"schema of {len(proposal.name)} characters"
    if proposal.action is ProposalAction.REVOKE_ATTESTATION:
        target = "0x" + proposal.data_hash.hex()
    if proposal.action is ProposalAction.REVOKE_ATTESTATIONS_ISSUED_SINCE:
        target = f"{proposal.office} issued since {_when(proposal.value)}"
    state = proposal.state.value
    if state == "open":
        state = f"open until {_when(proposal.deadline)}"
    votes = "vote" if proposal.votes == 1 else "votes"
    return (
        f"proposal {proposal.proposal_id}: {action} {target} by {proposal.proposer} — "
        f"{proposal.votes} {votes}, {state}"
    )


def propose_command(
    settings: Settings,
    action: str,
    acting: str,
    *,
    office: str | None = None,
    account: str | None = None,
    name: str | None = None,
    value: int | None = None,
    profile_hash: str | None = None,
    uid: str | None = None,
) -> list[str]:
    """Make a proposal as office ``acting`` (its admin key); its vote counts at once."""
    request = ProposalRequest.build(
        action,
        office=office,
        account=account,
        name=name,
        value=value,
        profile_hash=profile_hash,
        uid=uid,
    )
    with _actions(settings) as actions:
        proposal = actions.propose(acting, request)
    return [_describe(proposal)]


def vote_command(settings: Settings, proposal_id: int, acting: str) -> list[str]:
    """Vote for a proposal as office ``acting`` (its admin key)."""
    with _actions(settings) as actions:
        outcome = actions.vote(acting, proposal_id)
    effect = "it passed and took effect" if outcome.executed else "not yet passed"
    return [f"{acting} voted: {_describe(outcome.proposal)} ({effect})"]


def parse_expiry(text: str) -> int:
    """``--expires``: Unix seconds, or an ISO 8601 date (midnight UTC) or date and time."""
    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(
            f"--expires {text!r:.40} is not Unix seconds or an ISO 8601 date", field="expires"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise InvalidInputError(f"cannot read the {what} {path}: {error.strerror}") from None


def attest_command(
    settings: Settings,
    schema: str,
    acting: str,
    *,
    claim_file: Path | None = None,
    expires: str | None = None,
    certificate_file: Path | None = None,
    ref_uid: str | None = None,
) -> list[str]:
    """Attest the claim in ``claim_file`` (JSON) under ``schema`` as office ``acting`` (its
    signer key). An office-certificate attestation takes ``certificate_file`` (PEM) and may
    leave the claim out."""
    claim = None
    if claim_file is not None:
        parsed = parse_json_strict(_read(claim_file, "claim file"))
        if not isinstance(parsed, dict):
            raise InvalidInputError(f"the claim in {claim_file} must be a JSON object")
        claim = parsed
    certificate = _read(certificate_file, "certificate") if certificate_file else None
    expires_at = parse_expiry(expires) if expires is not None else None
    reference = parse_hash(ref_uid, "ref") if ref_uid is not None else None
    with _actions(settings) as actions:
        issued = actions.attest(
            acting,
            schema,
            claim,
            expires_at=expires_at,
            ref_uid=reference,
            certificate=certificate,
        )
    attestation = issued.attestation
    until = (
        f"valid until {_when(attestation.expires_at)}"
        if attestation.expires_at
        else "does not expire"
    )
    return [
        f"attestation 0x{attestation.uid.hex()}",
        f"  {issued.schema.name} by {attestation.issuer_office} (signer {attestation.attester}), "
        f"{until}",
        f"  claim SHA-256 0x{attestation.claim_hash.hex()}",
    ]


def revoke_command(settings: Settings, uid: str, acting: str) -> list[str]:
    """Revoke an attestation of office ``acting`` (its signer key)."""
    checked = parse_hash(uid, "uid")
    with _actions(settings) as actions:
        revoked = actions.revoke(acting, checked)
    return [f"attestation {uid} revoked by {acting} at {_when(revoked.revoked_at or 0)}"]


__all__ = [
    "attest_command",
    "parse_expiry",
    "propose_command",
    "revoke_command",
    "vote_command",
]
