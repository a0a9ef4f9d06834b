"""Node settings, from the environment (``IPCHAIN_*``) or the command line."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_OFFICES: tuple[tuple[str, str], ...] = (
    ("EM", "European Union Intellectual Property Office"),
    ("AU", "IP Australia"),
    ("RU", "Federal Service for Intellectual Property (Rospatent)"),
)
"""Founding offices of the demo consortium (ST.3 code, name)."""


class Settings(BaseSettings):
    """Where a node keeps its data and which chain it talks to."""

    model_config = SettingsConfigDict(env_prefix="IPCHAIN_", extra="ignore")

    data_dir: Path = Field(default=Path(".ipchain"))
    """Node data directory: embedded chain, keystores, deployment, SQLite index."""
    rpc_url: str | None = None
    """JSON-RPC node to use; None means the embedded chain in ``data_dir/chain``."""
    rpc_token: SecretStr | None = None
    """Bearer token (JWT) for a JSON-RPC node that requires one, e.g. a Besu auditor node."""
    database_url: str | None = None
    """SQLAlchemy URL of the index; None means SQLite in ``data_dir/index.db``."""
    keystore_password: SecretStr | None = None
    """Password of the office keystores; None means the node's password file (dev set-ups)."""
    keystore_fast_kdf: bool = False
    """Encrypt new keystores with a cheap scrypt cost (tests, throw-away demos): still
    encrypted at rest, but a stolen file is far cheaper to brute-force."""

    @property
    def chain_dir(self) -> Path:
        """Embedded chain database."""
        return self.data_dir / "chain"

    @property
    def keystore_dir(self) -> Path:
        """Encrypted office keystores."""
        return self.data_dir / "keystore"

    @property
    def deployment_file(self) -> Path:
        """Addresses of the consortium's contracts on the chain."""
        return self.data_dir / "deployment.json"

    @property
    def password_file(self) -> Path:
        """Dev set-ups only: a 0600 file holding the keystore password (like geth/Besu's
        ``--password`` file), made by ``ipchain init`` when no password is given."""
        return self.data_dir / "secrets" / "keystore-password"

    def resolved_database_url(self) -> str:
        """The index database URL, defaulting to SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'index.db').resolve()}"
