"""The SQL index of the chain: tables, engines and migrations (see :mod:`ipchain.db.base`)."""
