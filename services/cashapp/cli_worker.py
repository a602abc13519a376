"""CLI commands for the background side: ``cashrecon worker`` and ``cashrecon post``."""

from __future__ import annotations

import json
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the ``worker`` and ``post`` commands to ``app``."""
    app.command("worker")(worker)
    app.command("post")(post)


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
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON")] = False,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Rows claimed per relay run")] = 100,
) -> None:
    """Send every due outbox posting to the ERP now (inline, no Redis), then print the counts."""
    from services.cashapp.usecases.post import relay_until_idle
    from services.cashapp.worker import worker_id
    from shared.config import Settings
    from shared.db import make_engine
    from shared.erp import make_adapter
    from shared.errors import DomainError

    cfg = Settings()
    engine = make_engine(cfg.database_url)
    try:
        adapter = make_adapter()
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
