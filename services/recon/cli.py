"""``cashrecon recon ...`` (balance confirmations) and ``cashrecon reports ...`` (AR reports).

Mounted on the main app by :func:`register`; each command opens the migrated engine of
:func:`services.cashapp.cli.engine`, runs one use case and prints text, CSV or JSON.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import Engine, func, select

from shared.errors import DomainError

recon_app = typer.Typer(help="Customer balance confirmations (quarter-end).", no_args_is_help=True)
responses_app = typer.Typer(help="Customer replies to a confirmation run.", no_args_is_help=True)
reports_app = typer.Typer(help="AR reports: aging, DSO, unapplied cash, cash-application KPIs.",
                          no_args_is_help=True)
recon_app.add_typer(responses_app, name="responses")


class Fmt(StrEnum):
    CSV = "csv"
    JSON = "json"


def register(app: typer.Typer) -> None:
    """Add the ``recon`` and ``reports`` sub-apps to the main ``cashrecon`` app."""
    app.add_typer(recon_app, name="recon")
    app.add_typer(reports_app, name="reports")


def _engine() -> Engine:
    from services.cashapp.cli import engine

    return engine()


def _fail(exc: DomainError) -> None:
    typer.echo(f"error: {exc.code}: {exc.message}", err=True)
    raise typer.Exit(2)


def _day(text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from exc
    if not date(1900, 1, 1) <= day <= date(9999, 1, 1):  # report windows reach back two years
        raise typer.BadParameter(f"{text!r} is outside 1900-01-01 .. 9999-01-01")
    return day


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"written {out}", err=True)


AsOf = Annotated[str, typer.Option("--as-of", help="Cut-off / report date, YYYY-MM-DD.")]
Format = Annotated[Fmt, typer.Option("--format", help="csv or json.")]
OutFile = Annotated[Path | None, typer.Option("-o", "--out", help="Write to this file instead of stdout.")]


@recon_app.command("confirm")
def confirm(
    as_of: AsOf,
    min_balance: Annotated[str | None, typer.Option(
        "--min-balance", help="Only customers whose balance in some currency is at least this.")] = None,
    customer: Annotated[list[str] | None, typer.Option("--customer", help="Only this customer (repeatable).")] = None,
    segment: Annotated[str | None, typer.Option(
        "--segment", help="Only customers whose id matches this glob (e.g. 'DE-*').")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for letters and the run summary.")] = Path("var/recon"),
    no_pdf: Annotated[bool, typer.Option("--no-pdf", help="Write CSV/JSON only, no PDF letters.")] = False,
) -> None:
    """Create a confirmation run as of a cut-off: stored snapshot, letters, summary."""
    from services.recon.usecases.confirm import create_run, write_letters

    try:
        threshold = Decimal(min_balance) if min_balance is not None else None
    except InvalidOperation as exc:
        raise typer.BadParameter(f"--min-balance {min_balance!r} is not an amount") from exc
    eng = _engine()
    try:
        result = create_run(eng, _day(as_of), min_balance=threshold, customers=customer or None,
                            segment=segment)
    except DomainError as exc:
        _fail(exc)
        return
    # The run id names the folder, so the files are written from the stored rows after the commit.
    run_dir = out / f"run-{result.run_id}"
    written = write_letters(eng, result.run_id, run_dir, pdf=not no_pdf)
    typer.echo(f"run {result.run_id} as of {result.as_of}: {result.customers} customer(s), {result.items} "
               f"item(s), hash {result.snapshot_hash}, {written} confirmation(s) written to {run_dir}")


@recon_app.command("verify")
def verify(run: Annotated[int, typer.Argument(help="Confirmation run id.")]) -> None:
    """Recompute a run's snapshot hash from its stored rows; exit 1 on a mismatch."""
    from services.recon.usecases.confirm import verify_run

    try:
        result = verify_run(_engine(), run)
    except DomainError as exc:
        _fail(exc)
        return
    typer.echo(json.dumps(result.to_dict(), indent=2))
    if not result.ok:
        raise typer.Exit(1)


@responses_app.command("load")
def responses_load(
    file: Annotated[Path, typer.Argument(help="Reply CSV: confirmed balances or the customer's open items.",
                                         exists=True, dir_okay=False)],
    run: Annotated[int | None, typer.Option("--run", help="Run id (default: the newest run).")] = None,
) -> None:
    """Load customer replies, reconcile them with the run's snapshot, close the agreed ones."""
    from services.recon.models import ConfirmationRun
    from services.recon.usecases.responses import load_responses

    eng = _engine()
    if run is None:
        with eng.connect() as conn:
            run = conn.execute(select(func.max(ConfirmationRun.id))).scalar_one()
        if run is None:
            typer.echo("error: RECON_RUN_NOT_FOUND: no confirmation run yet", err=True)
            raise typer.Exit(2)
    try:
        result = load_responses(eng, run, file)
    except DomainError as exc:
        for err in getattr(exc, "details", {}).get("errors", [])[:50]:
            typer.echo(f"line {err['line']}: {err['reason']}", err=True)
        _fail(exc)
        return
    data = result.to_dict()
    data.pop("results")
    typer.echo(json.dumps(data, indent=2))


@recon_app.command("report")
def recon_report(
    run: Annotated[int, typer.Argument(help="Confirmation run id.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of text.")] = False,
) -> None:
    """Response rate, agreed / disagreed counts and values, differences by class, open ageing."""
    from services.recon.usecases.reports import run_report

    try:
        report = run_report(_engine(), run)
    except DomainError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(f"run {report['run_id']} as of {report['as_of']}: {report['customers']} customer(s), "
               f"{report['replied']} replied ({report['response_rate_pct']}%)")
    for key in ("agreed", "disagreed", "no_reply"):
        typer.echo(f"  {key:<10} {report[key]['count']:>6}  {_money(report[key]['balance_minor'])}")
    for cls, entry in report["differences_by_class"].items():
        typer.echo(f"  {cls:<26} {entry['count']:>6}  {_money(entry['difference_minor'])}")
    for age, count in report["open_confirmations_by_age_days"].items():
        typer.echo(f"  open {age:>6} days: {count}")


def _money(by_currency: dict[str, int]) -> str:
    from shared.money import format_minor

    return ", ".join(f"{format_minor(v, c)} {c}" for c, v in sorted(by_currency.items())) or "-"


def _write_report(report: dict[str, Any], fmt: Fmt, out: Path | None) -> None:
    from services.recon.usecases.output import report_csv, to_json

    _emit(to_json(report) if fmt is Fmt.JSON else report_csv(report), out)


def _buckets(text: str) -> list[int]:
    try:
        return [int(b) for b in text.split(",") if b.strip()]
    except ValueError as exc:
        raise typer.BadParameter(f"--buckets {text!r} must be whole days like 0,30,60,90") from exc


@reports_app.command("aging")
def report_aging(
    as_of: AsOf,
    buckets: Annotated[str, typer.Option("--buckets", help="Bucket thresholds in days past due.")] = "0,30,60,90",
    fmt: Format = Fmt.CSV,
    out: OutFile = None,
    total: Annotated[bool, typer.Option("--total", help="Only the totals per currency.")] = False,
) -> None:
    """Aging by customer as of a date (CSV: customers, or totals with --total; JSON: both)."""
    from services.recon.usecases.reports import aging_report

    try:
        report: dict[str, Any] = aging_report(_engine(), _day(as_of), _buckets(buckets))
    except DomainError as exc:
        _fail(exc)
        return
    if total:
        report = {"total": report["total"]}
    elif fmt is Fmt.CSV:  # one table per CSV file: customers unless --total
        report = {"by_customer": report["by_customer"]}
    _write_report(report, fmt, out)


@reports_app.command("dso")
def report_dso(
    as_of: AsOf,
    months: Annotated[int, typer.Option("--months", help="Months of sales for standard DSO.")] = 3,
    by_customer: Annotated[bool, typer.Option("--by-customer", help="Per customer and currency.")] = False,
    fmt: Format = Fmt.CSV,
    out: OutFile = None,
) -> None:
    """DSO as of a date, standard and count-back methods."""
    from services.recon.usecases.reports import dso_report

    try:
        report = dso_report(_engine(), _day(as_of), months=months, by_customer=by_customer)
    except DomainError as exc:
        _fail(exc)
        return
    _write_report(dict(report), fmt, out)


@reports_app.command("unapplied")
def report_unapplied(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date, YYYY-MM-DD (default today).")] = None,
    fmt: Format = Fmt.CSV,
    out: OutFile = None,
) -> None:
    """Unapplied cash and on-account / credit-note balances per customer."""
    from services.recon.usecases.reports import unapplied_report

    day = _day(as_of) if as_of else datetime.now(UTC).date()
    _write_report(dict(unapplied_report(_engine(), day)), fmt, out)


@reports_app.command("kpi")
def report_kpi(fmt: Format = Fmt.JSON, out: OutFile = None) -> None:
    """Cash-application KPIs: auto-match rate by day and rule, exceptions by reason and age, time to resolve."""
    from services.recon.usecases.reports import kpi_report

    _write_report(dict(kpi_report(_engine())), fmt, out)
