"""CLI commands for the background side: ``cashrecon worker`` and ``cashrecon post``.

``cashrecon post`` alone relays due postings (as it always did); ``post failures`` lists the
postings the ERP refused for good and ``post requeue KEY`` sends one again once it is fixed.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the ``worker`` and ``post`` commands to ``app``."""
    app.command("worker")(worker)
    post_app = typer.Typer(help="Send due postings to the ERP; list and requeue refused ones.")
    post_app.callback(invoke_without_command=True)(post)
    post_app.command("failures")(failures)
    post_app.command("requeue")(requeue)
    app.add_typer(post_app, name="post")


def worker(
    burst: Annotated[bool, typer.Option(help="Stop when the queue is empty")] = False,
) -> None:
    """Run the arq worker (needs CASHRECON_REDIS_URL): ingest, match, post, watch-folder scan."""
    import logging.config

    from arq.connections import RedisSettings
    from arq.logs import default_log_config
    from arq.worker import run_worker

    from services.cashapp.worker import WorkerSettings
    from shared.config import Settings

    cfg = Settings()
    if not cfg.redis_url:
        typer.echo("error: CONFIG_INVALID: CASHRECON_REDIS_URL is not set; without Redis jobs run "
                   "inline (cashrecon ingest / watch / post)", err=True)
        raise typer.Exit(2)
    logging.config.dictConfig(default_log_config(verbose=False))
    run_worker(WorkerSettings, redis_settings=RedisSettings.from_dsn(cfg.redis_url),  # type: ignore[arg-type]
               burst=burst)


def post(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON")] = False,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Rows claimed per relay run")] = 100,
) -> None:
    """Send every due outbox posting to the ERP now (inline, no Redis), then print the counts."""
    if ctx.invoked_subcommand is not None:
        return
    from services.cashapp.usecases.relay import relay_until_idle
    from services.cashapp.worker import worker_id
    from shared.config import Settings
    from shared.db import make_engine
    from shared.erp import make_adapter
    from shared.errors import DomainError

    cfg = Settings()
    engine = make_engine(cfg.database_url)
    try:
        adapter = make_adapter(cfg.erp)
        result = relay_until_idle(engine, adapter, worker_id(), batch=batch)
    except DomainError as exc:
        typer.echo(f"error: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    counts = {"claimed": result.claimed, "posted": result.posted, "duplicates": result.duplicates,
              "retried": result.retried, "failed": result.failed, "lost": result.lost,
              "released": result.released}
    if as_json:
        typer.echo(json.dumps(counts))
    else:
        typer.echo(" ".join(f"{k}={v}" for k, v in counts.items()))
    if result.failed:
        raise typer.Exit(1)


def failures(
    as_json: Annotated[bool, typer.Option("--json", help="Print the failures as JSON")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many, newest first")] = 100,
) -> None:
    """List the postings the ERP refused for good (open failures), newest first."""
    from sqlmodel import Session

    from services.cashapp.usecases.failures import list_failures
    from shared.config import Settings
    from shared.db import make_engine

    engine = make_engine(Settings().database_url)
    try:
        with Session(engine) as session:
            items, more = list_failures(session, "open", None, limit)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps({"items": items, "more": more is not None}))
        return
    for f in items:
        typer.echo(f"{f['posting_key']}\t{f['code']}\t{f['amount'] or ''} {f['currency'] or ''}\t"
                   f"{f['created_at']}\t{f['message']}")
    typer.echo(f"{len(items)} open failure(s){' (more not shown)' if more else ''}")


def requeue(
    key: Annotated[str, typer.Argument(help="The posting key of the refused posting")],
    reason: Annotated[str | None, typer.Option(help="What was fixed (recorded in the audit log)")] = None,
) -> None:
    """Send a refused posting again once its cause is fixed (audited; exit 1 if not open)."""
    import getpass

    from services.cashapp.usecases import failures as uc
    from services.cashapp.usecases.exceptions import Actor
    from shared.config import Settings
    from shared.db import make_engine, unit_of_work
    from shared.errors import DomainError

    # The CLI runs with database access, i.e. as the operator (cli_service audits as admin too).
    actor = Actor(f"cli:{getpass.getuser()}"[:64], "admin")
    engine = make_engine(Settings().database_url)
    try:
        with unit_of_work(engine, immediate=True) as session:
            done = uc.requeue(session, uc.open_failure_id(session, key), actor, reason)
    except DomainError as exc:
        typer.echo(f"error: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    typer.echo(f"requeued {done['posting_key']} (failure {done['id']}); "
               f"outbox is {done['outbox_status']}")
