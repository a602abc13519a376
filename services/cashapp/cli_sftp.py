"""CLI for the SFTP inbox: ``cashrecon sftp poll`` (one poll, inline, no Redis)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

sftp_app = typer.Typer(help="SFTP inbox: fetch bank files from a remote folder and import them.",
                       no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``sftp`` command group to ``app``."""
    app.add_typer(sftp_app, name="sftp")


@sftp_app.command("poll")
def poll(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per remote file")] = False,
) -> None:
    """Fetch every complete file from CASHRECON_SFTP_REMOTE_DIR into the watch folder, import it,
    then delete it remotely (or move it to CASHRECON_SFTP_DONE_DIR). Exit 1 when a file was
    quarantined or could not be cleared remotely, 2 when the server could not be used."""
    from services.cashapp.cli import engine as migrated_engine
    from services.cashapp.ruleset import balance_policy
    from services.cashapp.usecases.sftp import poll_once
    from shared.config import Settings
    from shared.errors import DomainError

    cfg = Settings()
    if not cfg.sftp.host:
        typer.echo("error: CONFIG_INVALID: CASHRECON_SFTP_HOST is not set", err=True)
        raise typer.Exit(2)
    engine = migrated_engine(cfg)  # the same database set-up as ``cashrecon ingest``
    try:
        results = poll_once(engine, cfg.sftp, cfg.watch_dir, balance_policy(cfg, engine))  # type: ignore[arg-type]
    except DomainError as exc:
        typer.echo(f"error: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    for r in results:
        if as_json:
            typer.echo(json.dumps(r.to_json(), default=str))
        else:
            where = f" -> {r.remote_path}" if r.remote_action == "moved" else ""
            why = f"  ({r.reason}: {r.message})" if r.reason else ""
            typer.echo(f"{r.status:<11} {r.remote_name!r}  remote {r.remote_action}{where}{why}")
    if not as_json and not results:
        typer.echo("no complete files on the server")
    if any(r.status == "quarantined" or r.remote_action == "failed" for r in results):
        raise typer.Exit(1)
