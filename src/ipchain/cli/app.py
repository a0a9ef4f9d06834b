"""The ``ipchain`` command line (typer + rich), without ``serve``: the console script is
``api.cli``, which adds ``serve`` (the HTTP API lives in ``api/``, above this package).

Every command reports failures as one readable line on stderr and a non-zero exit code: 2 for
bad input or an unreachable chain, 1 for a failed check. Tracebacks are for bugs only.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ipchain.cli.chain import chain_app
from ipchain.cli.network import network as network_app
from ipchain.config import Settings
from ipchain.encoding import prefer_pysha3_for_libraries
from ipchain.errors import IpchainError, VerificationError

app = typer.Typer(
    rich_markup_mode=None,  # plain help: no type column of <bool>/<path>, fits 80 columns
    name="ipchain",
    help="Permissioned-blockchain register of trademark and design events for IP offices.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
token_app = typer.Typer(
    rich_markup_mode=None,  # plain help: no type column of <bool>/<path>, fits 80 columns
    help="API credentials bound to one office.",
    no_args_is_help=True,
)
index_app = typer.Typer(
    rich_markup_mode=None,
    help="The node's index of the chain.",
    no_args_is_help=True,
)
app.add_typer(token_app, name="token")
app.add_typer(index_app, name="index")
app.add_typer(chain_app, name="chain")
app.add_typer(network_app, name="network")

console = Console()
errors = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Node data directory [env IPCHAIN_DATA_DIR, default .ipchain]"),
]
RpcUrl = Annotated[
    str | None,
    typer.Option(
        "--rpc", help="JSON-RPC node URL instead of the embedded chain [env IPCHAIN_RPC_URL]"
    ),
]


def node_settings(data_dir: Path | None, rpc_url: str | None = None) -> Settings:
    overrides: dict[str, object] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if rpc_url is not None:
        overrides["rpc_url"] = rpc_url
    return Settings(**overrides)  # type: ignore[arg-type]


@app.command()
def init(data_dir: DataDir = None, rpc_url: RpcUrl = None) -> None:
    """Set up a node: keys for the demo offices, funding, contracts. Safe to run again."""
    from ipchain.node.setup import init_node

    settings = node_settings(data_dir, rpc_url)
    with console.status("Setting up the node…"):
        node = init_node(settings)
    try:
        console.print(f"[green]ready[/] {settings.data_dir} on chain id {node.backend.chain_id}")
        for name, address in node.deployment.addresses.items():
            console.print(f"  {name:<20} {address}")
    finally:
        node.close()


@app.command()
def demo(data_dir: DataDir = None, rpc_url: RpcUrl = None) -> None:
    """Three offices anchor trademark and design events, read them back from the chain,
    verify each record's hash chain, and catch a modified document."""
    from ipchain.cli.demo import run_demo

    run_demo(node_settings(data_dir, rpc_url), console)


@app.command()
def verify(
    bundle: Annotated[Path, typer.Argument(help="Proof bundle (JSON) of a record.")],
    rpc_url: Annotated[
        str | None, typer.Option("--rpc", help="Any JSON-RPC node of the consortium chain.")
    ] = None,
    data_dir: DataDir = None,
    as_of_head: Annotated[
        bool,
        typer.Option(
            "--as-of-head",
            help="Fail unless the bundle holds the record's whole history up to the chain's "
            "head (by default, events anchored since it was made are only reported).",
        ),
    ] = False,
) -> None:
    """Verify a proof bundle against the chain alone (no API, no database)."""
    from ipchain.cli.verify import run_verify

    raise typer.Exit(run_verify(bundle, rpc_url, data_dir, require_head=as_of_head))


@app.command()
def audit(
    data_dir: DataDir = None,
    rpc_url: RpcUrl = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the JSON report to this file.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON report instead of the summary.")
    ] = False,
) -> None:
    """Cross-check the node's whole index database against the chain: every stored event
    re-hashed and compared field by field, every anchored event present, hash chains intact.
    Exit 1 on any discrepancy."""
    from ipchain.cli.audit import run_audit

    raise typer.Exit(run_audit(node_settings(data_dir, rpc_url), report, as_json=as_json))


@app.command()
def bundle(
    record_key: Annotated[str, typer.Argument(help="Record key, e.g. EM/TM/018123456.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the bundle here (default: stdout).")
    ] = None,
    data_dir: DataDir = None,
    rpc_url: RpcUrl = None,
) -> None:
    """Build a record's proof bundle from the chain, for 'ipchain verify' anywhere."""
    from ipchain.cli.bundle import run_bundle

    raise typer.Exit(run_bundle(node_settings(data_dir, rpc_url), record_key, out))


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def besu(context: typer.Context) -> None:
    """Besu QBFT network across machines (docs/deployment.md): node-key, office-keys,
    generate, refresh-config, deploy, allowlists, fund, admit, suspend, token, check-besu,
    rehearse."""
    from ipchain.besu import main as besu_main

    raise typer.Exit(besu_main(context.args))


Acting = Annotated[
    str,
    typer.Option(
        "--as", help="ST.3 code of the office to act for (its keys in the node's keystore)."
    ),
]


@app.command()
def propose(
    action: Annotated[
        str,
        typer.Argument(
            help="admit-office, suspend-office, reinstate-office, remove-office, add-signer, "
            "revoke-signer, change-threshold, approve-schema, replace-admin, readmit-office, "
            "revoke-attestation or revoke-attestations-issued-since."
        ),
    ],
    acting: Acting,
    office: Annotated[str | None, typer.Option(help="Office the proposal concerns.")] = None,
    account: Annotated[
        str | None,
        typer.Option(help="New admin (admit-office, readmit-office, replace-admin) or signer key."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(help="Office name (admit-office, readmit-office) or schema definition."),
    ] = None,
    value: Annotated[
        int | None,
        typer.Option(
            help="New threshold in basis points (change-threshold), or the Unix time from "
            "which the office's attestations are revoked (revoke-attestations-issued-since)."
        ),
    ] = None,
    profile_hash: Annotated[
        str | None, typer.Option(help="Profile document SHA-256 (admit-office, readmit-office).")
    ] = None,
    uid: Annotated[
        str | None, typer.Option(help="Uid of the attestation to revoke (revoke-attestation).")
    ] = None,
    data_dir: DataDir = None,
    rpc_url: RpcUrl = None,
) -> None:
    """Propose a change to the consortium as an office (its admin key); its vote counts."""
    from ipchain.cli.governance import propose_command

    settings = node_settings(data_dir, rpc_url)
    for line in propose_command(
        settings,
        action,
        acting,
        office=office,
        account=account,
        name=name,
        value=value,
        profile_hash=profile_hash,
        uid=uid,
    ):
        console.print(line, highlight=False, soft_wrap=True)


@app.command()
def vote(
    proposal_id: Annotated[int, typer.Argument(help="Proposal id.", min=0)],
    acting: Acting,
    data_dir: DataDir = None,
    rpc_url: RpcUrl = None,
) -> None:
    """Vote for a proposal as an office (its admin key)."""
    from ipchain.cli.governance import vote_command

    for line in vote_command(node_settings(data_dir, rpc_url), proposal_id, acting):
        console.print(line, highlight=False, soft_wrap=True)


@app.command()
def attest(
    schema: Annotated[str, typer.Option(help="Approved schema, e.g. ipchain/party-identity/v1.")],
    acting: Acting,
    claim: Annotated[Path | None, typer.Option(help="The claim document (JSON file).")] = None,
    expires: Annotated[
        str | None, typer.Option(help="When it stops holding: Unix seconds or ISO 8601.")
    ] = None,
    certificate: Annotated[
        Path | None, typer.Option(help="PEM certificate (ipchain/office-certificate/v1).")
    ] = None,
    ref: Annotated[str | None, typer.Option(help="Uid of an attestation it builds on.")] = None,
    data_dir: DataDir = None,
    rpc_url: RpcUrl = None,
) -> None:
    """Attest a claim as an office (its signer key); only the claim's hash goes on-chain."""
    from ipchain.cli.governance import attest_command

    settings = node_settings(data_dir, rpc_url)
    for line in attest_command(
        settings,
        schema,
        acting,
        claim_file=claim,
        expires=expires,
        certificate_file=certificate,
        ref_uid=ref,
    ):
        console.print(line, highlight=False, soft_wrap=True)


@app.command()
def revoke(
    uid: Annotated[str, typer.Argument(help="Attestation uid (0x…).")],
    acting: Acting,
    data_dir: DataDir = None,
    rpc_url: RpcUrl = None,
) -> None:
    """Revoke an attestation of an office (its signer key; only the issuer may)."""
    from ipchain.cli.governance import revoke_command

    for line in revoke_command(node_settings(data_dir, rpc_url), uid, acting):
        console.print(line, highlight=False, soft_wrap=True)


@app.command("import")
def import_register(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSON Lines of event documents, or ST.96 XML (TrademarkBag, DesignBag)."
        ),
    ],
    url: Annotated[
        str, typer.Option("--url", help="The office node's API.")
    ] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None,
        typer.Option(
            "--token", envvar="IPCHAIN_TOKEN", help="The office's API token [env IPCHAIN_TOKEN]."
        ),
    ] = None,
    office: Annotated[
        str | None, typer.Option("--office", help="ST.3 code (default: the first record's).")
    ] = None,
    batch_events: Annotated[
        int, typer.Option("--batch", min=1, max=10_000, help="Events per request.")
    ] = 1_000,
) -> None:
    """Onboard an existing register through the office node's API: streamed, validated as the
    API validates, resumable after a crash or Ctrl-C (run it again), nothing anchored twice."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from ipchain.cli.importer import import_file
    from ipchain.register.importing import survey

    if token is None:
        raise IpchainError("an API token is needed: --token, or IPCHAIN_TOKEN")
    if not file.is_file():
        raise IpchainError(f"no file {file}")
    import requests

    with console.status("Reading the file…"):
        digest, records, events = survey(file)
    console.print(f"{file.name}: {records:,} records, {events:,} events", highlight=False)
    with Progress(
        TextColumn("Importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events · {task.fields[rate]:,.0f}/s"),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("import", total=events, rate=0.0)

        def advance(count: int) -> None:
            bar.advance(task, count)
            speed = bar.tasks[task].speed
            bar.update(task, rate=speed or 0.0)

        with requests.Session() as session:
            summary = import_file(
                file,
                session,
                url.rstrip("/") + "/api/v1",
                token,
                office=office.upper() if office else None,
                batch_events=batch_events,
                progress=advance,
                digest=digest,
            )
    rate = summary.events / summary.seconds if summary.seconds else 0.0
    console.print(
        f"[green]imported[/] {summary.records:,} records, {summary.events:,} events in "
        f"{summary.batches} batches ({summary.replayed} already accepted before), anchored in "
        f"{summary.seconds:,.1f} s ({rate:,.0f} events/s); "
        f"{summary.unverifiable_links} links unverifiable",
        highlight=False,
    )


@index_app.command("retry-quarantined")
def index_retry_quarantined(data_dir: DataDir = None, rpc_url: RpcUrl = None) -> None:
    """Index again the chain logs this node quarantined (after an upgrade that reads more);
    what still fails stays quarantined with its reason. Exit 1 if any does."""
    from ipchain.cli.index import retry_quarantined_command

    outcome = retry_quarantined_command(node_settings(data_dir, rpc_url))
    console.print(
        f"{outcome.quarantined} quarantined, {outcome.retried} retried, "
        f"{outcome.indexed} indexed now, {outcome.still_quarantined} still quarantined",
        highlight=False,
    )
    if outcome.still_quarantined:
        raise typer.Exit(1)


@token_app.command("create")
def token_create(
    office: Annotated[str, typer.Option(help="ST.3 code of the office the token acts for.")],
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    data_dir: DataDir = None,
) -> None:
    """Create an API token for an office; it is shown once and stored only as a hash."""
    from ipchain.cli.token import create_token_command

    token = create_token_command(node_settings(data_dir), office, label)
    console.print(token, soft_wrap=True)


@token_app.command("list")
def token_list(
    office: Annotated[
        str | None, typer.Option(help="Only the tokens of this office (ST.3 code).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """List the node's API tokens (ids, offices, dates, labels; never the secrets)."""
    from ipchain.cli.token import list_tokens_command, tokens_table

    tokens = list_tokens_command(node_settings(data_dir), office)
    if not tokens:
        console.print("no API tokens" + ("" if office is None else f" of {office.upper()}"))
        return
    console.print(tokens_table(tokens), highlight=False)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="Token id, as 'token list' shows.")],
    data_dir: DataDir = None,
) -> None:
    """Revoke an API token by its id: the API refuses it from now on."""
    from ipchain.cli.token import revoke_token_command

    token = revoke_token_command(node_settings(data_dir), token_id)
    label = f" ({token.label})" if token.label else ""
    console.print(
        f"revoked API token {token.id} of {token.office}{label}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def main() -> None:
    """Entry point: usage errors are click's (exit 2); ipchain errors become one line on stderr
    with exit 1 (a failed check) or 2 (bad input, unreachable chain). Libraries hash keccak
    through pysha3 here unless ``ETH_HASH_BACKEND`` says otherwise."""
    prefer_pysha3_for_libraries()
    try:
        app()
    except VerificationError as error:
        errors.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    except IpchainError as error:
        errors.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
