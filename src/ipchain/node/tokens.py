"""API credentials: bearer tokens, each bound to exactly one office.

A token is 256 random bits, shown once when it is made and stored only as its SHA-256 (a secret
with that much entropy needs no slow password hash: nobody can guess it, and a stolen database
holds nothing that can be replayed). Writes through the API act for the token's office and no
other; reads are public.

The functions take an open session and leave committing to the caller, so that making a token
can share a transaction with other set-up work::

    with session_factory() as session:
        token = create_token(session, "EM", label="back office")
        session.commit()
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ipchain.db.base import IMMEDIATE
from ipchain.db.submissions import api_tokens
from ipchain.errors import AuthenticationError, InvalidInputError, NotFoundError, UnknownOfficeError

TOKEN_PREFIX: Final = "ipc_"
"""Prefix of every token, so that secret scanners and people recognise one."""

_TOKEN = re.compile(r"ipc_[A-Za-z0-9_-]{43}")
_OFFICE_CODE = re.compile(r"[A-Z]{2}")
_LABEL_LENGTH: Final = 200


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What is known about a token besides the secret itself."""

    id: int
    """Row id, used to revoke it."""
    office: str
    """ST.3 code of the office it acts for."""
    label: str
    """What it is for."""
    created_at: datetime.datetime
    """When it was made."""
    revoked_at: datetime.datetime | None
    """When it was revoked (None while valid)."""


def token_digest(token: str) -> bytes:
    """SHA-256 of a token's UTF-8 bytes: what is stored."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def create_token(session: Session, office: str, *, label: str = "") -> str:
    """Make a token for ``office`` and return it: the only time it is ever visible.

    Adds the hashed token to ``session``; the caller commits.
    """
    if not isinstance(office, str) or not _OFFICE_CODE.fullmatch(office):
        raise UnknownOfficeError(
            f"office: {office!r} is not a WIPO ST.3 code (two capital letters)", field="office"
        )
    if len(label) > _LABEL_LENGTH:
        raise InvalidInputError(f"label: at most {_LABEL_LENGTH} characters", field="label")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.execute(
        api_tokens.insert().values(
            office=office,
            token_sha256=token_digest(token),
            label=label,
            created_at=_now(),
            revoked_at=None,
        )
    )
    return token


def authenticate(session: Session, token: str | None) -> str:
    """The office a token acts for; :class:`AuthenticationError` when it is missing, malformed,
    unknown or revoked (one message for all: the caller learns nothing about which)."""
    if not token:
        raise AuthenticationError("a bearer token is required (Authorization: Bearer <token>)")
    if not _TOKEN.fullmatch(token):
        raise AuthenticationError("the bearer token is not valid")
    digest = token_digest(token)
    row = session.execute(
        select(api_tokens.c.office, api_tokens.c.token_sha256, api_tokens.c.revoked_at).where(
            api_tokens.c.token_sha256 == digest
        )
    ).first()
    # The lookup is by digest; compare again in constant time so that no code path depends on
    # how much of a stored digest matches.
    if row is None or not hmac.compare_digest(row.token_sha256, digest) or row.revoked_at:
        raise AuthenticationError("the bearer token is not valid")
    return str(row.office)


def revoke_token(session: Session, token_id: int) -> TokenInfo:
    """Revoke a token by its id and return it; revoking twice is harmless (the first time is
    kept). :class:`NotFoundError` for an unknown id. The caller commits.

    It reads, then writes: on SQLite the write lock is taken at the start (when this is the
    session's first statement), so a busy node makes it wait rather than fail."""
    session.connection(execution_options=IMMEDIATE)
    row = session.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
    if row is None:
        raise NotFoundError(f"no API token with id {token_id}")
    revoked_at = row.revoked_at
    if revoked_at is None:
        revoked_at = _now()
        session.execute(
            update(api_tokens)
            .where(api_tokens.c.id == token_id)
            .values(revoked_at=revoked_at)
            .execution_options(synchronize_session=False)
        )
    return TokenInfo(
        id=row.id,
        office=row.office,
        label=row.label,
        created_at=row.created_at,
        revoked_at=revoked_at,
    )


def list_tokens(session: Session, office: str | None = None) -> list[TokenInfo]:
    """Tokens (never their secrets), oldest first, of one office or all."""
    query = select(api_tokens).order_by(api_tokens.c.id)
    if office is not None:
        query = query.where(api_tokens.c.office == office)
    return [
        TokenInfo(
            id=row.id,
            office=row.office,
            label=row.label,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )
        for row in session.execute(query)
    ]


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
