"""A whole consortium on one machine: one chain node and one ipchain node per office, each its
own supervised process group with its own data directory, database, API port and only its own
office's keys (``ipchain network up``, ``status``, ``admit``, ``down``)."""
