"""``ipchain token create|list|revoke``: API credentials bound to one office, kept in the node's
database (only their SHA-256; see :mod:`ipchain.node.tokens`)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.table import Table
from sqlalchemy.orm import Session

from ipchain.config import Settings
from ipchain.db.base import make_engine, session_factory, upgrade
from ipchain.errors import InvalidInputError
from ipchain.node.tokens import TokenInfo, create_token, list_tokens, revoke_token
from ipchain.register.catalog import OfficeCode


@contextmanager
def _transaction(settings: Settings) -> Iterator[Session]:
    """A transaction on the node's (migrated) database, committed on success."""
    url = settings.resolved_database_url()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


def create_token_command(settings: Settings, office: str, label: str) -> str:
    """Create a token for ``office`` in the node's database; return it (shown once)."""
    code = OfficeCode(office.upper())  # refuses codes that are not ST.3-shaped
    with _transaction(settings) as session:
        return create_token(session, str(code), label=label)


def list_tokens_command(settings: Settings, office: str | None) -> list[TokenInfo]:
    """The node's tokens (never their secrets), oldest first, of one office or all."""
    code = None if office is None else str(OfficeCode(office.upper()))
    with _transaction(settings) as session:
        return list_tokens(session, code)


def revoke_token_command(settings: Settings, token_id: str) -> TokenInfo:
    """Revoke the token with id ``token_id`` (as ``token list`` shows it); return it."""
    text = token_id.strip()
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise InvalidInputError(
            f"token id {token_id!r:.40} is not a positive whole number (see 'ipchain token list')",
            field="id",
        )
    with _transaction(settings) as session:
        return revoke_token(session, int(text))


def tokens_table(tokens: Sequence[TokenInfo]) -> Table:
    """The tokens as a table that fits 80 columns (labels wrap)."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("ID", justify="right", no_wrap=True)
    table.add_column("Office", no_wrap=True)
    table.add_column("Created (UTC)", no_wrap=True)
    table.add_column("Revoked (UTC)", no_wrap=True)
    table.add_column("Label", overflow="fold", max_width=30)
    for token in tokens:
        table.add_row(
            str(token.id),
            token.office,
            _when(token.created_at),
            "-" if token.revoked_at is None else _when(token.revoked_at),
            token.label,
        )
    return table


def _when(moment: datetime.datetime) -> str:
    if moment.tzinfo is None:  # SQLite returns naive datetimes; they were written in UTC
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M")
