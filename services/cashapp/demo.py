"""``make demo``: the whole job end to end on SQLite with the bundled sample files.

Loads the sample customers and open items, imports the sample bank statements (MT940, CAMT.053,
OFX; written by the project's own generator, see ``shared/synth``), runs the matcher and prints
what happened: files, auto-match rate, a few explained decisions and the exception queue.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session, col

from services.cashapp.models import DecisionRow, ExceptionItem, Receipt
from services.cashapp.rules import default_rules
from services.cashapp.usecases.export import decision_frames, export_applications
from services.cashapp.usecases.ingest import ingest_path
from services.cashapp.usecases.masterdata import load_file
from services.cashapp.usecases.match import run_match
from shared.db import make_engine, migrate, unit_of_work
from shared.money import format_minor

DATA = Path(__file__).resolve().parent / "demo_data"
OUT = Path("var/demo")


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join([line, sep, *body])


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    engine = make_engine(f"sqlite:///{OUT / 'demo.db'}")
    migrate(engine)
    meta = json.loads((DATA / "demo.json").read_text())
    print(f"cashrecon demo: database {OUT / 'demo.db'}\n")
    with unit_of_work(engine) as s:
        c = load_file(s, "customers", DATA / "customers.csv")
        o = load_file(s, "open_items", DATA / "open_items.csv")
    print(f"loaded {c.rows} customer account rows and {o.rows} open items\n")
    rows = []
    for f in sorted((DATA / "statements").iterdir()):
        r = ingest_path(engine, f)
        j = r.to_json()
        credits = " + ".join(f"{t['credit']} {c}" for c, t in j["totals"].items())
        rows.append([f.name, r.status, r.format or "", str(r.statements), str(r.lines),
                     credits, r.reason or ""])
    again = ingest_path(engine, sorted((DATA / "statements").iterdir())[0])
    rows.append([f"(again) {Path(again.path).name}", again.status, "", "", "", "", again.reason or ""])
    print(_table(rows, ["file", "status", "format", "statements", "lines", "credits", "reason"]))
    as_of = date.fromisoformat(meta["as_of"])
    summary = run_match(engine, default_rules(), as_of)
    print(f"\nmatching as of {as_of}: {summary.receipts} incoming payments decided: {summary.auto} "
          f"applied automatically, {summary.exceptions} queued as exceptions "
          "(debits are stored but never applied)")
    print(f"auto-match rate: {summary.auto_rate:.1%} of all incoming payments, including the "
          "interest, tax refunds and unknown payers that rightly go to a person\n")
    _print_examples(engine)
    _print_accuracy(engine)
    n = export_applications(engine, OUT / "applications.csv")
    print(f"\nwrote {n} rows to {OUT / 'applications.csv'} (cashrecon export applications)")


def _print_accuracy(engine) -> None:  # type: ignore[no-untyped-def]
    """The demo files come with the generator's ground truth: show how the decisions score."""
    from shared.synth.evaluate import evaluate, load_truth

    with Session(engine) as s:
        decisions, suggestions = decision_frames(s)
    m = evaluate(decisions, load_truth(DATA / "truth.jsonl"), suggestions).overall
    rate = f"{m.auto_rate:.1%}" if m.auto_rate is not None else "-"
    prec = f"{m.precision:.1%}" if m.precision is not None else "-"
    print(f"\nagainst the generator's ground truth: {m.auto_applicable} of {m.applicable} "
          f"customer payments applied automatically ({rate}), precision {prec}, "
          f"{m.false_auto} wrong automatic application(s)")


def _print_examples(engine) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        q = (select(DecisionRow, Receipt).join(Receipt, col(Receipt.id) == col(DecisionRow.receipt_id))
             .order_by(col(DecisionRow.id)))
        pairs = s.execute(q).all()
        seen_rules: set[str] = set()
        print("a few automatic decisions, explained:")
        for d, r in pairs:
            if d.status == "auto" and d.rule_id not in seen_rules and len(seen_rules) < 6:
                seen_rules.add(d.rule_id or "")
                print(f"  {r.bank_reference or '-':<14} {format_minor(r.amount_minor, r.currency):>10} "
                      f"{r.currency} -> {d.customer_id} [{d.rule_id}, score {d.score:.2f}]\n"
                      f"      {d.reason}")
        exc = s.execute(select(ExceptionItem, DecisionRow, Receipt)
                        .join(DecisionRow, col(DecisionRow.id) == col(ExceptionItem.decision_id))
                        .join(Receipt, col(Receipt.id) == col(ExceptionItem.receipt_id))
                        .order_by(col(ExceptionItem.id))).all()
        print(f"\nexception queue ({len(exc)} item(s)):")
        rows = []
        for e, d, r in exc[:15]:
            sugg = json.loads(d.suggestions_json or "[]")
            top = ", ".join(sugg[0].get("document_numbers", [])) if sugg else ""
            rows.append([str(e.id), format_minor(r.amount_minor, r.currency) + " " + r.currency,
                         (r.counterparty_name or "")[:28], e.reason, top[:30]])
        if rows:
            print(_table(rows, ["id", "amount", "payer", "reason", "top suggestion"]))


if __name__ == "__main__":
    main()
