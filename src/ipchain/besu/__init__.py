"""A Hyperledger Besu QBFT network with one validator per office (DESIGN §6), for deployments
across machines: ``ipchain besu …`` (or ``python -m ipchain.besu``).

* :mod:`~ipchain.besu.network` — the network spec (offices, their validator and auditor nodes,
  keys), checked whole before anything is written;
* :mod:`~ipchain.besu.genesis` — the pinned Besu release and the genesis written for it;
* :mod:`~ipchain.besu.files` — each node's folder: config (validator or auditor profile),
  ``start.sh`` that refuses another Besu release, ``generate`` that never overwrites a network;
* :mod:`~ipchain.besu.allowlists` — ``permissions_config.toml`` and ``static-nodes.json``,
  always written together from OfficeRegistry's Active offices;
* :mod:`~ipchain.besu.membership` — admission and suspension in the order QBFT needs;
* :mod:`~ipchain.besu.node_rpc` — JWT keys and tokens for the nodes' JSON-RPC;
* :mod:`~ipchain.besu.rehearse` — the first-run rehearsal;
* :mod:`~ipchain.besu.cli` — the command line.

None of it has run against a live Besu network yet (docs/deployment.md §3):
node_config/besu/README.md says what was checked against Besu's source and what was not.
"""

from ipchain.besu.allowlists import (
    Allowlists,
    allowlists_from_registry,
    founding_allowlists,
    fund_accounts,
    render_permissions,
    render_static_nodes,
    write_node_allowlists,
)
from ipchain.besu.cli import check_besu, main
from ipchain.besu.files import (
    AUDITOR_CONFIG_TEMPLATE,
    CONFIG_TEMPLATE,
    NO_AUTH_METHODS,
    generate_network,
    refresh_config,
    render_config,
    render_start_script,
)
from ipchain.besu.genesis import (
    ACCOUNT_BALANCE_WEI,
    BESU_VERSION,
    BLOCK_GAS_LIMIT,
    BLOCK_PERIOD_SECONDS,
    GENESIS_TIMESTAMP,
    ISTANBUL_MIX_HASH,
    QBFT_PARAMETERS,
    REQUEST_TIMEOUT_SECONDS,
    SYSTEM_CONTRACTS,
    decode_qbft_extra_data,
    encode_qbft_extra_data,
    genesis_document,
    genesis_validators,
)
from ipchain.besu.network import (
    CONSORTIUM_CHAIN_ID,
    AuditorNodeSpec,
    NodeSpec,
    OfficeNodeSpec,
    enode_url,
    generate_node_key,
    load_network_spec,
    public_key_of_key_file,
    validator_address,
)

__all__ = [
    "ACCOUNT_BALANCE_WEI",
    "AUDITOR_CONFIG_TEMPLATE",
    "BESU_VERSION",
    "BLOCK_GAS_LIMIT",
    "BLOCK_PERIOD_SECONDS",
    "CONFIG_TEMPLATE",
    "CONSORTIUM_CHAIN_ID",
    "GENESIS_TIMESTAMP",
    "ISTANBUL_MIX_HASH",
    "NO_AUTH_METHODS",
    "QBFT_PARAMETERS",
    "REQUEST_TIMEOUT_SECONDS",
    "SYSTEM_CONTRACTS",
    "Allowlists",
    "AuditorNodeSpec",
    "NodeSpec",
    "OfficeNodeSpec",
    "allowlists_from_registry",
    "check_besu",
    "decode_qbft_extra_data",
    "encode_qbft_extra_data",
    "enode_url",
    "founding_allowlists",
    "fund_accounts",
    "generate_network",
    "generate_node_key",
    "genesis_document",
    "genesis_validators",
    "load_network_spec",
    "main",
    "public_key_of_key_file",
    "refresh_config",
    "render_config",
    "render_permissions",
    "render_start_script",
    "render_static_nodes",
    "validator_address",
    "write_node_allowlists",
]
