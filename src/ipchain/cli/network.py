"""``ipchain network``: a whole consortium on one machine (:mod:`ipchain.network.local`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

network = typer.Typer(
    rich_markup_mode=None,  # plain help: no type column of <bool>/<path>, fits 80 columns
    help="A consortium on one machine: one chain node, one node per office.",
    no_args_is_help=True,
)
console = Console()

Root = Annotated[Path, typer.Option("--dir", help="Where the network keeps its nodes' data.")]
DEFAULT_ROOT = Path(".ipchain-network")


@network.command()
def up(
    root: Root = DEFAULT_ROOT,
    rpc_port: Annotated[int, typer.Option(help="Port of the chain node's JSON-RPC.")] = 8545,
    base_port: Annotated[
        int, typer.Option(help="API port of the first office node; the others follow.")
    ] = 8101,
    demo: Annotated[bool, typer.Option(help="Load each founder's demo data.")] = True,
    admit: Annotated[
        list[str] | None, typer.Option(help="Admit this office at start (e.g. MT).")
    ] = None,
) -> None:
    """Start the network (or what of it is not running): EM, AU and RU as members, MT's node
    as a non-member that reads and indexes."""
    from ipchain.network.local import up as start

    start(
        root,
        rpc_port=rpc_port,
        base_port=base_port,
        demo=demo,
        admit_offices=admit or (),
        say=lambda line: console.print(line, highlight=False),
    )
    _print_status(root)


@network.command()
def status(root: Root = DEFAULT_ROOT) -> None:
    """Each node: URL, running or not, member, chain head, indexed block and lag."""
    _print_status(root)


@network.command()
def admit(
    office: Annotated[str, typer.Argument(help="ST.3 code of the office to admit.")],
    root: Root = DEFAULT_ROOT,
) -> None:
    """Admit an office by vote, live: proposal and votes each through an office's own node."""
    from ipchain.network.local import admit as admit_office

    admit_office(root, office, say=lambda line: console.print(line, highlight=False))


@network.command()
def down(root: Root = DEFAULT_ROOT) -> None:
    """Stop every process the network started; the data stays for the next ``up``."""
    from ipchain.network.local import down as stop

    stop(root, say=lambda line: console.print(line, highlight=False))


def _print_status(root: Path) -> None:
    from ipchain.network.local import status as read_status

    table = Table(title=f"network in {root}")
    for column in ("node", "url", "state", "member", "head", "indexed", "lag"):
        table.add_column(
            column, justify="right" if column in ("head", "indexed", "lag") else "left"
        )
    for row in read_status(root):
        member = "" if row.member is None else ("yes" if row.member else "no")
        table.add_row(
            row.office,
            row.url,
            "[green]up[/]" if row.running else "[red]down[/]",
            member,
            "" if row.chain_head is None else str(row.chain_head),
            "" if row.indexed_block is None else str(row.indexed_block),
            "" if row.lag is None else str(row.lag),
        )
    console.print(table)
