"""Read the corpus' expected outputs (the source projects' own formats) into one plain shape.

- WoLpH/mt940 YAML: pickled-object dumps; read with a safe loader that turns the ``!!python``
  tags into plain dicts (nothing is imported or executed). Its ``transactions`` list runs over
  all statements of the file; ``data`` holds the last statement's balances.
- mt940-rs JSON: one object per statement.
- mt940-js JSON: one object per statement; amounts are JSON numbers, read as Decimal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml


@dataclass
class ExpectedLine:
    amount: Decimal  # signed as the source project signs it
    value_date: date
    entry_date: date | None
    mark: str  # C, D, RC, RD as far as the source tells


@dataclass
class Expected:
    lines: list[ExpectedLine]
    statement_count: int | None = None  # None when the source does not tell
    # per statement, the acceptable (signed amount, date) values; empty = not told. WoLpH tells
    # only the last statement's, and keeps a final and an intermediate balance side by side.
    openings: list[list[tuple[Decimal, date]]] = field(default_factory=list)
    closings: list[list[tuple[Decimal, date]]] = field(default_factory=list)
    only_last_balances: bool = False


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads python/ruby object tags as plain data."""


def _object(loader: _Loader, suffix: str, node: yaml.Node) -> Any:
    data: dict[str, Any] = {"__class__": suffix}
    yield data
    if isinstance(node, yaml.MappingNode):
        data.update(loader.construct_mapping(node, deep=True))


def _apply(loader: _Loader, suffix: str, node: yaml.Node) -> Any:
    args = loader.construct_sequence(node, deep=True) if isinstance(node, yaml.SequenceNode) else []
    if suffix == "decimal.Decimal":
        return Decimal(args[0])
    if suffix.endswith(".Date"):  # pickled datetime.date state: 2-byte year, month, day
        raw = args[0]
        return date(raw[0] * 256 + raw[1], raw[2], raw[3])
    return None


_Loader.add_multi_constructor("tag:yaml.org,2002:python/object/apply:", _apply)
_Loader.add_multi_constructor("tag:yaml.org,2002:python/object:", _object)
_Loader.add_multi_constructor("tag:yaml.org,2002:python/name:", lambda _l, s, _n: s)
_Loader.add_multi_constructor("!ruby/", _object)


def _wolph_balances(*found: dict[str, Any] | None) -> list[tuple[Decimal, date]]:
    # WoLpH's Amount is already signed by the C/D mark
    return [(bal["amount"]["amount"], bal["date"]) for bal in found if bal]


def _wolph(path: Path) -> Expected | None:
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    if not isinstance(doc, dict) or "transactions" not in doc:
        return None
    lines = []
    for tx in doc["transactions"]:
        d = tx["data"]
        lines.append(ExpectedLine(d["amount"]["amount"], d["date"], d.get("entry_date"),
                                  d.get("status") or ""))
    data = doc.get("data") or {}
    return Expected(
        lines=lines,
        openings=[_wolph_balances(data.get("final_opening_balance"),
                                  data.get("intermediate_opening_balance"))],
        closings=[_wolph_balances(data.get("final_closing_balance"),
                                  data.get("intermediate_closing_balance"))],
        only_last_balances=True,
    )


_RS_MARK = {"Credit": "C", "Debit": "D", "ReverseCredit": "RD", "ReverseDebit": "RC"}


def _rs_balance(bal: dict[str, Any] | None) -> list[tuple[Decimal, date]]:
    if not bal:
        return []
    amount = Decimal(bal["amount"])
    sign = -1 if bal["debit_credit_indicator"] == "Debit" else 1
    return [(sign * amount, date.fromisoformat(bal["date"]))]


def _mt940_rs(doc: list[dict[str, Any]]) -> Expected:
    lines = []
    for st in doc:
        for ln in st["statement_lines"]:
            mark = _RS_MARK[ln["ext_debit_credit_indicator"]]
            amount = Decimal(ln["amount"])
            lines.append(ExpectedLine(
                amount if mark in ("C", "RD") else -amount, date.fromisoformat(ln["value_date"]),
                date.fromisoformat(ln["entry_date"]) if ln.get("entry_date") else None, mark))
    return Expected(lines=lines, statement_count=len(doc),
                    openings=[_rs_balance(st.get("opening_balance")) for st in doc],
                    closings=[_rs_balance(st.get("closing_balance")) for st in doc])


def _js_balance(bal: dict[str, Any] | None) -> list[tuple[Decimal, date]]:
    if not bal:
        return []
    amount = Decimal(str(bal["value"]))
    return [((amount if bal["isCredit"] else -amount), date.fromisoformat(bal["date"]))]


def _mt940_js(doc: list[dict[str, Any]]) -> Expected:
    lines = []
    for st in doc:
        for tx in st["transactions"]:
            amount = Decimal(str(tx["amount"]))
            lines.append(ExpectedLine(
                amount if tx["isCredit"] else -amount, date.fromisoformat(tx["valueDate"]),
                date.fromisoformat(tx["entryDate"]) if tx.get("entryDate") else None,
                "C" if tx["isCredit"] else "D"))
    return Expected(lines=lines, statement_count=len(doc),
                    openings=[_js_balance(st.get("openingBalance")) for st in doc],
                    closings=[_js_balance(st.get("closingBalance")) for st in doc])


def load_expected(path: Path) -> Expected | None:
    """The expected output at ``path`` in the plain shape, ``None`` when it holds no statement."""
    if path.suffix == ".yml":
        return _wolph(path) if path.name.startswith("WoLpH-") else None
    doc = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    if path.name.startswith("mt940-rs__"):
        return _mt940_rs(doc)
    if path.name.startswith("mt940-js__"):
        return _mt940_js(doc)
    return None
