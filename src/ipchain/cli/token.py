"""``ipchain token create``: an API credential bound to one office."""

from __future__ import annotations

from ipchain.config import Settings
from ipchain.db.base import make_engine, session_factory, upgrade
from ipchain.node.tokens import create_token
from ipchain.register.catalog import OfficeCode


def create_token_command(settings: Settings, office: str, label: str) -> str:
    """Create a token for ``office`` in the node's database; return it (shown once)."""
    code = OfficeCode(office.upper())  # refuses codes that are not ST.3-shaped
    url = settings.resolved_database_url()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            return create_token(session, str(code), label=label)
    finally:
        engine.dispose()
