"""Dry run: re-score under new rules and report what would change; nothing is applied."""

from __future__ import annotations

from services.cashapp.domain import decisions_to_frame, dry_run, match
from services.cashapp.domain.inputs import ACCOUNTS, CUSTOMERS, OPEN_ITEMS, RECEIPTS
from services.cashapp.rules import default_rules
from tests.cashapp.domain.frames import AS_OF, frame, item, receipt, with_rules

IBAN = "DE89370400440532013000"


def _inputs() -> tuple:
    receipts = frame(
        [
            receipt(1, 1000_00, remittance="INV-2026-004512"),
            receipt(2, 985_00, remittance="INV-2026-004513"),  # 15.00 short on 1000.00
            receipt(3, 297_50, counterparty_account=IBAN),
            receipt(4, -50_00),
        ],
        RECEIPTS,
    )
    items = frame(
        [
            item(1, "C1", "INV-2026-004512", 1000_00),
            item(2, "C1", "INV-2026-004513", 1000_00),
            item(3, "C1", "INV-3", 297_50),
        ],
        OPEN_ITEMS,
    )
    customers = frame([{"customer_id": "C1", "customer_name": "Acme"}], CUSTOMERS)
    accounts = frame([{"customer_id": "C1", "kind": "iban", "value": IBAN, "source": "master"}], ACCOUNTS)
    return receipts, items, customers, accounts


def test_same_rules_change_nothing() -> None:
    r, o, c, a = _inputs()
    current = decisions_to_frame(match(r, o, c, a, default_rules(), AS_OF))
    report = dry_run(r, o, c, a, current, default_rules(), AS_OF)
    assert report.changes == () and report.unchanged == 4
    assert report.counts_before == report.counts_after == {"auto": 3, "ignored": 1}
    assert report.version_before == report.version_after == "2026.1"


def test_stricter_rules_show_each_change() -> None:
    r, o, c, a = _inputs()
    current = decisions_to_frame(match(r, o, c, a, default_rules(), AS_OF))
    strict = with_rules('version = "2026.2"\n[tolerances.short_payment]\nmax_abs = "10.00"')
    strict = strict.model_copy(
        update={
            "strategies": [
                s if s.id != "amount.exact" else s.model_copy(update={"enabled": False}) for s in strict.strategies
            ]
        }
    )
    report = dry_run(r, o, c, a, current, strict, AS_OF)
    assert report.version_after == "2026.2"
    assert report.counts_before == {"auto": 3, "ignored": 1}
    assert report.counts_after == {"auto": 1, "exception": 2, "ignored": 1}
    changed = {ch.receipt_id: ch for ch in report.changes}
    assert set(changed) == {2, 3}
    assert changed[2].status_before == "auto" and changed[2].status_after == "exception"
    assert changed[2].documents_before == ("INV-2026-004513",) and changed[2].documents_after == ()
    assert changed[3].rule_before == "amount.exact" and changed[3].exception_after == "NO_CANDIDATE"
    frame_ = report.changes_frame()
    assert frame_.height == 2 and frame_["documents_before"].to_list()[0] in {"INV-2026-004513", "INV-3"}
    assert "auto" in report.summary() and "changed 2" in report.summary()


def test_receipts_without_a_current_decision_are_new() -> None:
    r, o, c, a = _inputs()
    report = dry_run(r, o, c, a, decisions_to_frame([]), default_rules(), AS_OF)
    assert len(report.changes) == 4 and all(ch.status_before is None for ch in report.changes)
    assert report.counts_before == {}
