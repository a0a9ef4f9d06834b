"""The ``ipchain`` console script: the commands of :mod:`ipchain.cli.app` plus ``serve``, which
runs the node with its HTTP API (``api.server``). ``ipchain`` itself never imports ``api``, so
the one command that needs both is added here.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ipchain.cli import app as commands
from ipchain.cli.app import DataDir, RpcUrl, app, node_settings


@app.command()
def serve(
    data_dir: DataDir = None,
    rpc_url: RpcUrl = None,
    demo: Annotated[bool, typer.Option(help="Load demo data on first start.")] = False,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run the node: chain, indexer, submitter and the HTTP API."""
    from api.server import run_server
    from ipchain.node.setup import init_node

    settings = node_settings(data_dir, rpc_url)
    init_node(settings).close()
    run_server(settings, demo=demo, host=host, port=port)


def main() -> None:
    """Entry point of the ``ipchain`` console script (exit codes: :func:`ipchain.cli.app.main`)."""
    commands.main()


if __name__ == "__main__":
    main()
