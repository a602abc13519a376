"""CLI commands of the running service: ``serve``, ``users create``, ``audit verify|export``.

``services/cashapp/cli.py`` calls :func:`register` on its Typer app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine
from sqlmodel import Session

from shared.errors import DomainError


def _engine() -> Engine:
    from services.cashapp.api.app import default_engine

    return default_engine()


def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (CASHRECON_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (CASHRECON_PORT)")] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Run the REST API (OpenAPI at /docs)."""
    import uvicorn

    from services.cashapp.api.app import default_engine
    from shared.config import Settings

    cfg = Settings()
    default_engine(cfg).dispose()  # migrate once before the workers start
    uvicorn.run("services.cashapp.cli_service:app_factory", factory=True, host=host or cfg.host,
                port=port or cfg.port, workers=workers, proxy_headers=True)


def app_factory():  # type: ignore[no-untyped-def]
    """uvicorn's factory: one app per worker process."""
    from services.cashapp.api.app import create_app

    return create_app()


def users_create(
    name: Annotated[str, typer.Argument(help="User name")],
    role: Annotated[str, typer.Option("--role", help="clerk | supervisor | auditor | admin")],
    writeoff_limit: Annotated[str | None, typer.Option(help="Own write-off limit (decimal)")] = None,
) -> None:
    """Create a user and print its API key once (only a salted hash is stored)."""
    from services.cashapp.auth import create_user
    from shared.db import unit_of_work

    try:
        with unit_of_work(_engine(), immediate=True) as session:
            user, key = create_user(session, name, role, actor="cli", actor_role="admin",
                                    writeoff_limit=writeoff_limit)
    except DomainError as exc:
        typer.echo(f"error: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"created {user.role} {user.name!r}; API key (shown once, keep it safe):")
    typer.echo(key)


def audit_verify() -> None:
    """Check the audit hash chain; exit 1 and name the first broken seq when it is broken."""
    from services.cashapp import audit

    with Session(_engine()) as session:
        broken, total = audit.verify(session), audit.count(session)
    if broken is None:
        typer.echo(f"ok: {total} audit entries, chain intact")
        return
    typer.echo(f"broken: first broken link at seq {broken}", err=True)
    raise typer.Exit(1)


def audit_export(out: Annotated[Path, typer.Option("-o", "--output", help="CSV file")]) -> None:
    """Write the audit log as CSV (atomically: a temporary file renamed into place)."""
    from services.cashapp import audit

    tmp = out.with_name(out.name + ".part")
    with Session(_engine()) as session, tmp.open("w", newline="", encoding="utf-8") as fh:
        n = audit.export_csv(session, fh)
    tmp.replace(out)
    typer.echo(f"wrote {n} audit entries to {out}")


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``users create``, ``audit verify`` and ``audit export`` to ``app``."""
    users = typer.Typer(help="API users and their keys.", no_args_is_help=True)
    users.command("create")(users_create)
    audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
    audit_app.command("verify")(audit_verify)
    audit_app.command("export")(audit_export)
    app.command("serve")(serve)
    app.add_typer(users, name="users")
    app.add_typer(audit_app, name="audit")
