"""Files of a confirmation: PDF letter, open items as CSV and JSON, reply template, run summary.

Amounts are written as decimal strings in the currency's minor-unit precision (never floats).
Customer ids become folder names, so anything outside ``[A-Za-z0-9._-]`` is replaced.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from shared.money import format_minor

ITEM_CSV_COLUMNS = (
    "customer_id", "document_number", "document_type", "document_date", "due_date", "currency",
    "amount", "open_amount",
)
REPLY_TEMPLATE_COLUMNS = ("customer_id", "document_number", "document_date", "amount", "currency",
                          "disputed", "note")
BALANCE_TEMPLATE_COLUMNS = ("customer_id", "currency", "confirmed_balance")
MAX_LETTER_ROWS = 60  # longer lists are in the CSV; a letter stays a few pages


@dataclass(frozen=True, slots=True)
class LetterData:
    """What one customer's confirmation says (rows are snapshot rows as dicts)."""

    run_id: int
    as_of: date
    customer_id: str
    customer_name: str
    items: list[dict[str, Any]]
    balances: dict[str, int]
    snapshot_hash: str


def safe_name(text: str) -> str:
    """A file-system safe folder name for a customer id."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:100] or "_"


def _d(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else ("" if value is None else str(value))


def _item_row(row: dict[str, Any]) -> list[str]:
    cur = row["currency"]
    return [row["customer_id"], row["document_number"], row["document_type"], _d(row["document_date"]),
            _d(row["due_date"]), cur, format_minor(row["amount_minor"], cur),
            format_minor(row["open_minor"], cur)]


def _write_csv(path: Path, header: Iterable[str], rows: Iterable[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def write_data_files(folder: Path, data: LetterData) -> None:
    """items.csv, items.json, reply_template.csv and balance_template.csv of one customer."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_csv(folder / "items.csv", ITEM_CSV_COLUMNS, (_item_row(r) for r in data.items))
    payload = {
        "run_id": data.run_id,
        "as_of": data.as_of.isoformat(),
        "customer_id": data.customer_id,
        "customer_name": data.customer_name,
        "snapshot_hash": data.snapshot_hash,
        "balances": [{"currency": c, "balance": format_minor(v, c)} for c, v in sorted(data.balances.items())],
        "items": [dict(zip(ITEM_CSV_COLUMNS, _item_row(r), strict=True)) for r in data.items],
    }
    (folder / "items.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    # The customer edits our list (amounts, disputed, note) or replaces it with its own.
    _write_csv(folder / "reply_template.csv", REPLY_TEMPLATE_COLUMNS, (
        [r["customer_id"], r["document_number"], _d(r["document_date"]),
         format_minor(r["open_minor"], r["currency"]), r["currency"], "", ""] for r in data.items))
    _write_csv(folder / "balance_template.csv", BALANCE_TEMPLATE_COLUMNS,
               ([data.customer_id, c, ""] for c in sorted(data.balances)))


def write_pdf(path: Path, data: LetterData) -> None:
    """The confirmation letter (reportlab platypus): balances, open items, how to reply."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, TableStyle

    styles = getSampleStyleSheet()
    story: list[Any] = [
        Paragraph("Balance confirmation request", styles["Title"]),
        Paragraph(f"To: {_esc(data.customer_name)} (customer {_esc(data.customer_id)})", styles["Normal"]),
        Paragraph(f"Reference: run {data.run_id}, as of {data.as_of.isoformat()}", styles["Normal"]),
        Spacer(1, 12),
        Paragraph(
            f"According to our books your balance on {data.as_of.isoformat()} was as follows. Please "
            "confirm it, or send us your list of open items, using the enclosed templates "
            "(reply_template.csv or balance_template.csv).", styles["Normal"]),
        Spacer(1, 12),
    ]
    story.append(_table([["Currency", "Balance"]] + [[c, format_minor(v, c)] for c, v in sorted(data.balances.items())],
                        colors, TableStyle))
    story.append(Spacer(1, 12))
    rows = [["Document", "Type", "Date", "Due", "Currency", "Open"]]
    rows += [[r["document_number"], r["document_type"], _d(r["document_date"]), _d(r["due_date"]),
              r["currency"], format_minor(r["open_minor"], r["currency"])] for r in data.items[:MAX_LETTER_ROWS]]
    story.append(_table(rows, colors, TableStyle))
    if len(data.items) > MAX_LETTER_ROWS:
        story.append(Paragraph(f"... {len(data.items) - MAX_LETTER_ROWS} more items in items.csv", styles["Normal"]))
    story += [Spacer(1, 12), Paragraph(f"Snapshot {data.snapshot_hash}", styles["Code"])]
    SimpleDocTemplate(str(path), pagesize=A4, title=f"Balance confirmation {data.customer_id}").build(story)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _table(rows: list[list[str]], colors: Any, style_cls: Any) -> Any:
    from reportlab.platypus import Table

    table = Table(rows, hAlign="LEFT")
    table.setStyle(style_cls([
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
        ("ALIGN", (-1, 1), (-1, -1), "RIGHT"),
    ]))
    return table


def write_customer(out_dir: Path, data: LetterData, *, pdf: bool = True) -> Path:
    """All files of one customer under ``out_dir/<customer>``; returns the letter's path."""
    folder = out_dir / safe_name(data.customer_id)
    write_data_files(folder, data)
    letter = folder / "letter.pdf"
    if pdf:
        write_pdf(letter, data)
    return letter


def write_summary(out_dir: Path, summary: dict[str, Any]) -> Path:
    """summary.json of the run."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    return path
