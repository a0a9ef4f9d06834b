"""Node fixtures for the poison suite: the API suite's (an initialised embedded-chain node
copied per test, signer keys decrypted once, SQLite and PostgreSQL index databases)."""

from tests.api.conftest import (  # noqa: F401 - fixtures, found by name
    database,
    embedded_dir,
    node_template,
    signer_keys,
    start_node,
)
from tests.db.conftest import database_url, sessions  # noqa: F401 - fixtures
