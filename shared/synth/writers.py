"""Write a world to disk: statement files (MT940 / CAMT.053 / OFX), master data and truth.

Everything is streamed row by row or statement by statement, so a 50,000-receipt world against
150,000 open items writes in seconds with flat memory. Output is byte-identical for a seed.

Files written by :func:`write_world` into ``out``:

- ``NN_<format>_<first>-<last>.<sta|xml|ofx>``: the statements;
- ``customers.csv``: ``customer_id, customer_name, iban`` - one row per known account, one row
  with an empty iban for a customer without any;
- ``open_items.csv``: ``customer_id, customer_name, document_number, document_type, document_date,
  due_date, currency, amount, open_amount, payment_reference`` - decimal strings, credit notes
  with a POSITIVE amount and ``document_type=credit_note`` (the loader negates them);
- ``truth.jsonl``: one JSON object per receipt (see :func:`truth_record`).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from shared.synth.camt_writer import write_camt053
from shared.synth.mt940_writer import write_mt940
from shared.synth.ofx_writer import write_ofx
from shared.synth.statements import FilePlan, decimal_text, plan_files, writer_rng
from shared.synth.world import Receipt, World

CUSTOMER_COLUMNS = ("customer_id", "customer_name", "iban")
OPEN_ITEM_COLUMNS = (
    "customer_id",
    "customer_name",
    "document_number",
    "document_type",
    "document_date",
    "due_date",
    "currency",
    "amount",
    "open_amount",
    "payment_reference",
)
TRUTH_FILE = "truth.jsonl"


def write_statements(world: World, out: Path, files: int) -> list[FilePlan]:
    """Write the statement files into ``out``; returns the plans (file names and contents)."""
    out.mkdir(parents=True, exist_ok=True)
    plans = plan_files(world, files)
    rng = writer_rng(world)
    for plan in plans:
        # newline="" keeps the CRLF of MT940 and the LF of XML exactly as written on every OS.
        with (out / plan.name).open("w", encoding="utf-8", newline="") as fh:
            if plan.format == "mt940":
                write_mt940(fh, plan.statements)
            elif plan.format == "camt053":
                msg_id = f"CAMT053-{world.seed}-{plan.name[:2]}-{plan.last_day:%Y%m%d}"
                write_camt053(fh, plan.statements, rng, msg_id, plan.last_day)
            else:
                write_ofx(fh, plan.statements, plan.first_day, plan.last_day)
    return plans


def write_master_data(world: World, out: Path) -> tuple[Path, Path]:
    """Write ``customers.csv`` and ``open_items.csv`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    customers, items = out / "customers.csv", out / "open_items.csv"
    with customers.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(CUSTOMER_COLUMNS)
        for c in world.customers:
            for iban in c.ibans or ("",):
                writer.writerow((c.customer_id, c.customer_name, iban))
    names = {c.customer_id: c.customer_name for c in world.customers}
    with items.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(OPEN_ITEM_COLUMNS)
        for it in sorted(world.open_items, key=lambda i: (i.customer_id, i.document_number)):
            writer.writerow(
                (
                    it.customer_id,
                    names[it.customer_id],
                    it.document_number,
                    it.document_type,
                    it.document_date.isoformat(),
                    it.due_date.isoformat(),
                    it.currency,
                    decimal_text(it.amount_minor, it.currency),
                    decimal_text(it.open_amount_minor, it.currency),
                    it.payment_reference,
                )
            )
    return customers, items


def truth_record(r: Receipt, fmt: str = "", file: str = "") -> dict[str, Any]:
    """The ground truth of one receipt, keyed by ``bank_reference`` + ``statement_account``.

    ``allocations`` amounts are what each document's open amount is reduced by (credit notes
    negative); ``residual_minor`` = receipt - sum of the documents' open amounts (negative when
    something was deducted, positive when overpaid). Money in integer minor units.
    """
    t = r.truth
    return {
        "bank_reference": r.bank_reference,
        "statement_account": r.account,
        "format": fmt,
        "file": file,
        "booking_date": r.booking_date.isoformat(),
        "currency": r.currency,
        "amount_minor": r.amount_minor,
        "scenario": t.scenario,
        "outcome": str(t.outcome),
        "customer_id": t.customer_id,
        "allocations": [
            {"document_number": a.document_number, "amount_minor": a.amount_minor} for a in t.allocations
        ],
        "residual_class": str(t.residual_class),
        "residual_minor": t.residual_minor,
    }


def write_truth(world: World, path: Path, plans: list[FilePlan] | None = None) -> Path:
    """Write ``truth.jsonl``: one record per receipt, in statement order."""
    where: dict[str, tuple[str, str]] = {}
    for plan in plans or []:
        for st in plan.statements:
            for r in st.receipts:
                where[r.bank_reference] = (plan.format, plan.name)
    with path.open("w", encoding="utf-8", newline="") as fh:
        for r in world.receipts:
            fmt, file = where.get(r.bank_reference, ("", ""))
            fh.write(json.dumps(truth_record(r, fmt, file), ensure_ascii=False, separators=(",", ":")) + "\n")
    return path


def write_world(world: World, out: Path, files: int) -> list[Path]:
    """Statements, master data and truth for ``world`` in ``out``; returns every path written."""
    plans = write_statements(world, out, files)
    customers, items = write_master_data(world, out)
    truth = write_truth(world, out / TRUTH_FILE, plans)
    return [out / p.name for p in plans] + [customers, items, truth]
