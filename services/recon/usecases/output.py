"""CSV and JSON output of report frames; money as decimal strings beside the currency."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import polars as pl

from shared.money import format_minor


def humanise(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows with every ``x_minor`` column written as ``x`` in decimal (needs a ``currency`` column)."""
    money = [c for c in frame.columns if c.endswith("_minor")]
    out = []
    for row in frame.iter_rows(named=True):
        cur = row.get("currency")
        item: dict[str, Any] = {}
        for key, value in row.items():
            if key in money and cur is not None and value is not None:
                item[key.removesuffix("_minor")] = format_minor(value, cur)
            else:
                item[key] = _plain(value)
        out.append(item)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def to_json(report: dict[str, Any]) -> str:
    """A report (frames and plain values) as indented JSON."""
    data = {k: humanise(v) if isinstance(v, pl.DataFrame) else v for k, v in report.items()}
    return json.dumps(data, indent=2, default=str) + "\n"


def to_csv(frame: pl.DataFrame) -> str:
    """One frame as CSV text (header always written)."""
    rows = humanise(frame)
    columns = list(rows[0]) if rows else [c.removesuffix("_minor") if "currency" in frame.columns else c
                                          for c in frame.columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def report_csv(report: dict[str, Any]) -> str:
    """Every frame of a report as CSV, one section per frame (``# name`` line before each)."""
    frames = [(k, v) for k, v in report.items() if isinstance(v, pl.DataFrame)]
    if len(frames) == 1:
        return to_csv(frames[0][1])
    return "\n".join(f"# {name}\n{to_csv(frame)}" for name, frame in frames)
