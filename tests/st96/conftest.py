"""Fixtures of the ST.96 and import suite: the API suite's started node, the index suite's
databases."""

from tests.api.conftest import (  # noqa: F401 - fixtures, found by name
    database,
    embedded_dir,
    node,
    node_template,
    signer_keys,
    start_node,
)
from tests.db.conftest import database_url, sessions  # noqa: F401 - fixtures
