"""Round trip: the project's parsers read the generated files back to the world's receipts.

Whitespace is compared squashed (banks and parsers differ in how they join wrapped text); MT940
text is compared in the SWIFT character set the writer transliterates to; OFX carries neither
payer account nor end-to-end id.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.statements.model import BankLine
from shared.synth import Receipt, World
from shared.synth.mt940_writer import free_text, swift_text
from shared.synth.ofx_writer import NAME_MAX, memo
from shared.synth.writers import write_world

registry = pytest.importorskip("shared.statements.registry", reason="statement parsers not available")

NOT_PROVIDED = (None, "", "NOTPROVIDED")


def _squash(text: str | None) -> str:
    return " ".join((text or "").split()).upper()


def _expected_name(r: Receipt, fmt: str, dialect: str) -> str:
    if fmt == "mt940":
        return swift_text(r.payer_name, dutch=dialect == "nl")[: 70 if dialect == "nl" else 54]
    return r.payer_name[:NAME_MAX] if fmt == "ofx" else r.payer_name


def _expected_remittance(r: Receipt, fmt: str, dialect: str) -> str:
    if fmt == "mt940":
        return swift_text(free_text(r), dutch=dialect == "nl")
    return memo(r) if fmt == "ofx" else r.remittance


def _parsed(written: Path) -> dict[tuple[str, str], tuple[str, BankLine]]:
    lines: dict[tuple[str, str], tuple[str, BankLine]] = {}
    for path in sorted(written.iterdir()):
        if not path.name[:2].isdigit():
            continue
        parser = registry.detect(path)
        for stmt in parser.parse(path):
            for line in stmt.lines:
                key = (stmt.account, line.bank_reference or "")
                assert key not in lines, key
                lines[key] = (path.name, line)
    return lines


def test_parsers_read_back_every_receipt(world: World, written: Path) -> None:
    _roundtrip(world, written)


def test_parsers_read_back_a_larger_world(big_world: World, tmp_path: Path) -> None:
    write_world(big_world, tmp_path, files=6)  # batches, split Ustrd, chained files
    _roundtrip(big_world, tmp_path)


def _roundtrip(world: World, written: Path) -> None:
    lines = _parsed(written)
    assert set(lines) == {(r.account, r.bank_reference) for r in world.receipts}
    problems: list[str] = []
    for r in world.receipts:
        acc = world.account(r.account)
        name, line = lines[(r.account, r.bank_reference)]
        got: dict[str, object] = {
            "amount": line.amount_minor,
            "currency": line.currency,
            "booking": line.booking_date,
            "name": _squash(line.counterparty_name),
            "remittance": _squash(line.remittance),
        }
        want: dict[str, object] = {
            "amount": r.amount_minor,
            "currency": r.currency,
            "booking": r.booking_date,
            "name": _squash(_expected_name(r, acc.format, acc.dialect)),
            "remittance": _squash(_expected_remittance(r, acc.format, acc.dialect)),
        }
        if acc.format != "ofx":
            got["account"] = line.counterparty_account or ""
            # MT940 ?31 / /IBAN/ take the account without separators; CAMT Othr/Id keeps it as is
            want["account"] = r.payer_account.replace("-", "") if acc.format == "mt940" else r.payer_account
            e2e = line.end_to_end_reference
            got["e2e"] = None if e2e in NOT_PROVIDED else e2e
            e2e_text = r.end_to_end_id
            if acc.format == "mt940":
                e2e_text = swift_text(e2e_text, dutch=acc.dialect == "nl")
            want["e2e"] = None if r.end_to_end_id in NOT_PROVIDED else e2e_text
            got["value"], want["value"] = line.value_date, r.value_date
        if acc.format == "camt053":
            got["cref"] = line.creditor_reference or ""
            want["cref"] = r.creditor_reference
        diff = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
        if diff:
            problems.append(f"{name} {r.bank_reference} ({r.truth.scenario}): {diff}")
    assert not problems, "\n".join(problems[:20])


def test_parsed_statements_balance(written: Path) -> None:
    for path in sorted(written.iterdir()):
        if path.name[:2].isdigit():
            for stmt in registry.detect(path).parse(path):
                assert stmt.balance_gap() in (0, None), (path.name, stmt.statement_id)
