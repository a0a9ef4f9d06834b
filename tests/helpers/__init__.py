"""Helpers the tests import (fixtures stay in the ``conftest.py`` files).

- ``consortium``: a deployed three-office consortium with its keys, fresh keys.
- ``database``: empty index databases (SQLite, or a throw-away PostgreSQL schema).
- ``documents``: register events and documents to anchor or submit.
- ``nodes``: node services under test and multi-node data directories.
- ``governance``: proposals, schemas, chain time and direct contract calls.
- ``cli``: running the ``ipchain`` command as a user does.
- ``vectors``: where the RFC 8785 and RFC 9162 conformance vectors are.
"""
