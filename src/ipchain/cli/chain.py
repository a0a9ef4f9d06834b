"""``ipchain chain``: the embedded chain as a node of its own process.

``ipchain chain serve --data-dir DIR`` opens the embedded chain in DIR and serves it over
JSON-RPC (see :mod:`ipchain.chain.node` for the contract a supervisor relies on and
:mod:`ipchain.chain.sender_policy` for who may send transactions). Heavy imports wait until
the command runs, so ``ipchain --help`` stays fast.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ipchain.errors import InvalidInputError

if TYPE_CHECKING:
    from ipchain.chain.node import ChainNode

chain_app = typer.Typer(
    rich_markup_mode=None,  # plain help: no type column of <bool>/<path>, fits 80 columns
    help="The embedded chain as a node of its own process, served over JSON-RPC.",
    no_args_is_help=True,
)


@chain_app.command("serve", short_help="Serve the embedded chain over JSON-RPC.")
def serve(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="The chain's directory (created on first start), e.g. .ipchain/chain.",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[
        str, typer.Option(metavar="PORT", help="Port to listen on (0: any free port).")
    ] = "8545",
    deployer: Annotated[
        str | None,
        typer.Option(
            metavar="ADDRESS",
            help="Account allowed to deploy the consortium, until its set-up is complete.",
        ),
    ] = None,
) -> None:
    """Serve the embedded chain over JSON-RPC until SIGTERM or Ctrl-C. Only accounts of
    Active offices, the deployer until set-up completes, and the dev faucet's plain transfers
    may send transactions; reads are public. Prints 'JSON-RPC: URL' and writes
    DIR/chain-node.json once serving."""
    run_chain_serve(data_dir, host, port, deployer)


def run_chain_serve(data_dir: Path | None, host: str, port: str, deployer: str | None) -> None:
    """The ``chain serve`` command: checks its input and that the chain is not served yet
    and the port free (before the slow imports), then serves until signalled."""
    from ipchain.chain.node import URL_LINE_PREFIX, ChainNode, preflight, serve_until_signalled

    if data_dir is None:
        raise InvalidInputError("--data-dir is required: the chain's directory", field="data_dir")
    try:
        port_number = int(port)
    except ValueError:
        raise InvalidInputError(f"--port {port!r} is not a port number", field="port") from None
    if deployer is not None:
        if not re.fullmatch(r"(0x)?[0-9a-fA-F]{40}", deployer):
            raise InvalidInputError(
                f"--deployer {deployer!r} is not an account address (0x and 40 hex digits)",
                field="deployer",
            )
        deployer = "0x" + deployer.removeprefix("0x")  # as keystore files write it, or not
    preflight(data_dir, host, port_number)

    def start() -> ChainNode:
        from ipchain.contracts.bindings import load_interface

        return ChainNode.start(
            data_dir,
            load_interface("OfficeRegistry"),
            host=host,
            port=port_number,
            deployer=deployer,
        )

    def announce(node: ChainNode) -> None:
        policy = node.policy
        lines = [
            f"chain id {node.chain.chain_id}, block {node.chain.block_number()}, in {data_dir}",
        ]
        if policy.office_registry is not None:
            lines.append(f"senders: accounts of Active offices in {policy.office_registry}")
        if policy.deployer is not None and not policy.set_up_complete():
            lines.append(f"senders: deployer {policy.deployer} until the set-up is complete")
        lines.append("senders: plain transfers from the dev faucet")
        lines.append(f"{URL_LINE_PREFIX}{node.url}")
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()

    serve_until_signalled(start, announce)
