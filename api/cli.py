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
    demo: Annotated[
        bool,
        typer.Option(
            help="Load demo data on first start, and allow the workshop page's tamper button "
            "(never on a production node)."
        ),
    ] = False,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the HTTP API.")] = 8000,
    rpc_port: Annotated[
        int, typer.Option(help="Port of the embedded chain's JSON-RPC (without --rpc).")
    ] = 8545,
    workers: Annotated[
        int | None, typer.Option(help="API worker processes (default: one per core).")
    ] = None,
) -> None:
    """Run the node as supervised processes: its chain (served over JSON-RPC when it is the
    embedded one), the writer (submitter and indexer) and the HTTP API workers."""
    from api.server import run_server

    settings = node_settings(data_dir, rpc_url)
    run_server(settings, demo=demo, host=host, port=port, rpc_port=rpc_port, workers=workers)


def main() -> None:
    """Entry point of the ``ipchain`` console script (exit codes: :func:`ipchain.cli.app.main`)."""
    commands.main()


if __name__ == "__main__":
    main()
