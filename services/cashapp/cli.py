"""The ``cashrecon`` command line."""

from __future__ import annotations

import contextlib
import json
import stat
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from services.cashapp.ruleset import balance_policy
from shared.config import Settings
from shared.db import make_engine, migrate, unit_of_work
from shared.errors import DomainError

app = typer.Typer(help="cashrecon: cash application and reconciliation for AR teams.",
                  no_args_is_help=True, add_completion=False)
customers_app = typer.Typer(help="Customer master data.", no_args_is_help=True)
open_items_app = typer.Typer(help="Open items (invoices, credit notes) from the ERP.",
                             no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
export_app = typer.Typer(help="Exports for the ERP and for people.", no_args_is_help=True)
rules_app = typer.Typer(help="The matching rule set.", no_args_is_help=True)
app.add_typer(export_app, name="export")
app.add_typer(rules_app, name="rules")
app.add_typer(customers_app, name="customers")
app.add_typer(open_items_app, name="open-items")
app.add_typer(db_app, name="db")


def settings() -> Settings:
    return Settings()


def engine(cfg: Settings | None = None) -> Engine:
    """The configured database, migrated to the newest schema (creates it when empty)."""
    cfg = cfg or settings()
    eng = make_engine(cfg.database_url)
    migrate(eng)
    return eng


def fail(exc: DomainError) -> None:
    typer.echo(f"error: {exc.code}: {exc.message}", err=True)
    raise typer.Exit(2)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the Alembic migrations to the configured database."""
    eng = engine()
    typer.echo(f"schema is current on {eng.url.render_as_string(hide_password=True)}")


def _expand(paths: list[Path]) -> list[Path]:
    from services.cashapp.usecases.inbox import SUBDIRS, candidates

    out: list[Path] = []
    for p in paths:
        if p.is_dir() and not p.is_symlink():
            out.extend(c for c in candidates(p) if c.name not in SUBDIRS.values())
        else:
            out.append(p)
    return out


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Bank files or folders of bank files.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file.")] = False,
    move: Annotated[bool, typer.Option(
        "--move", help="File each one away under archive/, duplicates/ or quarantine/ of its "
        "folder, as the watch folder does.")] = False,
) -> None:
    """Import bank statements (MT940/MT942, CAMT.052/053/054, OFX, cheque logs) once each."""
    from services.cashapp.usecases.inbox import ensure_layout, file_away, process
    from services.cashapp.usecases.ingest import IngestBatch

    cfg = settings()
    eng = engine(cfg)
    policy = balance_policy(cfg, eng)
    files = _expand(paths)
    # Regular files now go to one batch (one parse-ahead child for all); each is still checked,
    # imported in its own transaction and filed away at its turn, in the order given.
    slots: dict[int, int] = {}
    for i, path in enumerate(files):
        if _regular_file(path):
            slots[i] = len(slots)
    bad = 0
    with IngestBatch(eng, [files[i] for i in slots], policy) as batch:
        for i, path in enumerate(files):
            if not path.exists() and not path.is_symlink():
                typer.echo(f"error: INGEST_NOT_FOUND: {path}", err=True)
                bad += 1
                continue
            if move:
                ensure_layout(path.parent)
            if i in slots and _regular_file(path):
                result = batch.ingest(slots[i])
                if move:
                    file_away(path.parent, path, result)
            else:  # symlinks and special files are refused; a file new since the start is read alone
                result = process(eng, path.parent, path, policy, move=move)
            bad += result.status == "quarantined"
            if as_json:
                typer.echo(json.dumps(result.to_json(), default=str))
            else:
                _print_result(result)
    if bad:
        raise typer.Exit(1)


def _regular_file(path: Path) -> bool:
    """A regular file, not a symlink (``process`` refuses those as INGEST_NOT_A_FILE)."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _print_result(result) -> None:  # type: ignore[no-untyped-def]
    data = result.to_json()
    totals = ", ".join(f"+{t['credit']} / -{t['debit']} {c}" for c, t in data["totals"].items())
    line = f"{data['status']:<11} {Path(data['path']).name}"
    if data["status"] == "imported":
        line += (f"  [{data['format']}] {data['statements']} statement(s), {data['lines']} line(s)"
                 f"{', ' + str(data['lines_skipped']) + ' known' if data['lines_skipped'] else ''}"
                 f"  {totals}")
        if data["held_statements"]:
            line += f"  ({data['held_statements']} held: balance break)"
    else:
        line += f"  {data['reason']}: {data['message']}"
    typer.echo(line)


@app.command()
def watch(
    folder: Annotated[Path, typer.Argument(help="The inbox folder to watch.")],
    once: Annotated[bool, typer.Option("--once", help="Scan once and exit.")] = False,
    stable_seconds: Annotated[float | None, typer.Option(
        help="Seconds a file must stay unchanged before it is read.")] = None,
) -> None:
    """Watch a folder: import complete files and move them to archive/duplicates/quarantine."""
    from services.cashapp.usecases.inbox import Watcher, scan_once

    cfg = settings()
    eng = engine(cfg)
    stable = cfg.stable_seconds if stable_seconds is None else stable_seconds
    policy = balance_policy(cfg, eng)
    if once:
        for r in scan_once(eng, folder, policy, stable):
            _print_result(r)
        return
    typer.echo(f"watching {folder} (Ctrl-C to stop)")
    with contextlib.suppress(KeyboardInterrupt):
        Watcher(eng, folder, policy, stable).run(on_result=_print_result)


def _load(kind: str, file: Path) -> None:
    from services.cashapp.usecases.masterdata import load_file

    eng = engine()
    try:
        with unit_of_work(eng) as session:
            res = load_file(session, kind, file)
    except DomainError as exc:
        details = getattr(exc, "details", {}).get("errors") or []
        typer.echo(f"error: {exc.code}: {len(details) or ''} problem(s); nothing loaded", err=True)
        for e in details[:200]:
            typer.echo(f"  line {e['line']}: {e['reason']}", err=True)
        if not details:
            typer.echo(f"  {exc.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"loaded {res.rows} {kind.replace('_', ' ')} row(s): {res.inserted} new, "
               f"{res.updated} updated" + (f", {res.removed} left the snapshot" if res.removed else ""))


@customers_app.command("load")
def customers_load(file: Annotated[Path, typer.Argument(
        help="CSV: customer_id, customer_name, iban (one row per known account).")]) -> None:
    """Load customers and their known bank accounts."""
    _load("customers", file)


@open_items_app.command("load")
def open_items_load(file: Annotated[Path, typer.Argument(
        help="CSV: customer_id, customer_name, document_number, document_type, document_date, "
             "due_date, currency, amount, open_amount, payment_reference.")]) -> None:
    """Replace the open-item snapshot with an ERP extract."""
    _load("open_items", file)


@app.command("match")
def match_cmd(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Date the matcher treats as today (YYYY-MM-DD); default: today.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Apply automatic decisions and queue exceptions for every unapplied receipt (idempotent)."""
    from datetime import date

    from services.cashapp.ruleset import active_rules
    from services.cashapp.usecases.match import run_match

    cfg = settings()
    eng = engine(cfg)
    try:
        rules = active_rules(cfg, eng)
        day = date.fromisoformat(as_of) if as_of else date.today()
    except DomainError as exc:
        fail(exc)
        return
    except ValueError:
        typer.echo("error: CLI_BAD_DATE: --as-of must be YYYY-MM-DD", err=True)
        raise typer.Exit(2) from None
    res = run_match(eng, rules, day)
    data = {"run_id": res.run_id, "receipts": res.receipts, "auto": res.auto,
            "exceptions": res.exceptions, "ignored": res.ignored, "held": res.held,
            "auto_rate": round(res.auto_rate, 4), "by_rule": res.by_rule,
            "ruleset_version": rules.version}
    if as_json:
        typer.echo(json.dumps(data))
        return
    typer.echo(f"rule set {rules.version}: {res.receipts} receipt(s) decided: {res.auto} applied "
               f"automatically, {res.exceptions} exception(s), {res.ignored} ignored"
               + (f", {res.held} held by statement integrity" if res.held else "")
               + (f"; auto-match rate {res.auto_rate:.1%}" if res.auto + res.exceptions else ""))


@export_app.command("applications")
def export_applications_cmd(
    out: Annotated[Path, typer.Option("-o", "--output", help="CSV file to write.")],
) -> None:
    """One row per allocated document (status auto) and per queued receipt (status exception)."""
    from services.cashapp.usecases.export import export_applications

    n = export_applications(engine(), out)
    typer.echo(f"wrote {n} row(s) to {out}")


@rules_app.command("show")
def rules_show() -> None:
    """Print the active rule set (the configured file, else the shipped defaults)."""
    from services.cashapp.ruleset import active_rules

    cfg = settings()
    try:
        rules = active_rules(cfg)
    except DomainError as exc:
        fail(exc)
        return
    typer.echo(json.dumps(rules.model_dump(mode="json"), indent=2))


@rules_app.command("validate")
def rules_validate(file: Annotated[Path, typer.Argument(help="Rule-set TOML file.")]) -> None:
    """Check a rule file; prints every problem with its key path."""
    from services.cashapp.domain.rules import load_rules

    try:
        rules = load_rules(file.read_text(encoding="utf-8"))
    except DomainError as exc:
        fail(exc)
        return
    typer.echo(f"ok: rule set {rules.version} with {len(rules.strategies)} strategies")


@rules_app.command("dry-run")
def rules_dry_run(
    file: Annotated[Path, typer.Argument(help="The new rule-set TOML file to try.")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD; default today.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Re-score stored receipts under a new rule set and show what would change. Applies nothing."""
    from datetime import date

    from services.cashapp.domain.rules import load_rules
    from services.cashapp.usecases.dryrun import dry_run_report

    try:
        rules = load_rules(file.read_text(encoding="utf-8"))
    except DomainError as exc:
        fail(exc)
        return
    day = date.fromisoformat(as_of) if as_of else date.today()
    report = dry_run_report(engine(), rules, day)
    if as_json:
        typer.echo(json.dumps(report, default=str))
        return
    typer.echo(f"dry run of rule set {rules.version} over {report['receipts']} receipt(s):")
    for key in ("before", "after"):
        typer.echo(f"  {key:<6} " + ", ".join(f"{k} {v}" for k, v in sorted(report[key].items())))
    typer.echo(f"  {report['changed']} decision(s) would change")
    for ch in report["changes"][:20]:
        typer.echo(f"   receipt {ch['receipt_id']}: {ch['before']} -> {ch['after']}")


def _register_extensions() -> None:
    """Commands that live beside their own subsystem (worker and posting, ...)."""
    from services.cashapp.cli_service import register as register_service
    from services.cashapp.cli_sftp import register as register_sftp
    from services.cashapp.cli_worker import register as register_worker
    from services.recon.cli import register as register_recon

    register_worker(app)
    register_service(app)
    register_recon(app)
    register_sftp(app)


_register_extensions()
