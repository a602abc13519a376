"""Reference extraction: exact keys through prefixes, separators, wrapped lines; fuzzy one-edit hits."""

from __future__ import annotations

import polars as pl
import pytest

from services.cashapp.domain.explain import describe_edit
from services.cashapp.domain.inputs import OPEN_ITEMS, RECEIPTS
from services.cashapp.domain.normalize import qrr_check_digit, rf_make
from services.cashapp.domain.references import reference_hits
from services.cashapp.rules import default_rules
from tests.cashapp.domain.frames import frame, item, receipt

ITEMS = [
    item(1, "C1", "INV-2026-004512", 100_00),
    item(2, "C1", "90004512", 200_00),
    item(3, "C2", "INV-2026-004513", 300_00, payment_reference=rf_make("4711")),
    item(4, "C2", "0000123456", 400_00),
    item(5, "C3", "INV-2026-009999", 500_00, payment_reference="21000000000313947143000901" + "7"),
    item(6, "C3", "INV-2026-000777", 600_00, payment_reference="KD-4711-A"),
]


def _hits(rows: list[dict], items: list[dict] = ITEMS) -> pl.DataFrame:
    found = reference_hits(frame(rows, RECEIPTS), frame(items, OPEN_ITEMS), default_rules())
    return found.hits


def _exact(**fields: str) -> set[int]:
    hits = _hits([receipt(1, 999_99, **fields)])
    return set(hits.filter(pl.col("match") == "exact")["item_id"].to_list())


@pytest.mark.parametrize(
    ("fields", "items"),
    [
        ({"remittance": "INV-2026-004512"}, {1}),
        ({"remittance": "Rechnung inv 2026 004512 vom 1.3."}, {1}),
        ({"remittance": "RE: 2026/004512"}, {1}),
        ({"remittance": "RG.NR. 2026-004512"}, {1}),
        ({"remittance": "INV-2026-00 4512"}, {1}),  # number wrapped across MT940 lines
        ({"remittance": "INV-2026-4512"}, {1}),  # padding zeros left out
        ({"remittance": "#90004512 + INV-2026-004513"}, {2, 3}),
        ({"remittance": "Beleg 0090004512"}, {2}),
        ({"remittance": "ERP 123456"}, {4}),  # leading zeros of the document number
        ({"creditor_reference": rf_make("4711")}, {3}),
        ({"remittance": "ref " + " ".join([rf_make("4711")[i : i + 4] for i in range(0, 10, 4)])}, {3}),
        ({"creditor_reference": "21 00000 00003 13947 14300 09017"}, {5}),
        ({"end_to_end_reference": "INV-2026-004512"}, {1}),
        ({"customer_reference": "KD-4711-A"}, {6}),
        ({"remittance": "thanks 2026 and 004512"}, set()),  # words in between: not one number
        ({"end_to_end_reference": "NOTPROVIDED"}, set()),
    ],
)
def test_exact_hits(fields: dict[str, str], items: set[int]) -> None:
    assert _exact(**fields) == items


def test_structured_field_is_named_as_the_source() -> None:
    hits = _hits([receipt(1, 100_00, remittance="INV-2026-004512", creditor_reference="INV-2026-004512")])
    assert hits.filter(pl.col("item_id") == 1)["source"].to_list() == ["creditor_reference"]


@pytest.mark.parametrize(
    ("text", "item_id", "edit"),
    [
        ("INV-2026-004521", 1, "two digits swapped"),
        ("INV-2026-00412", 1, "one digit missing"),
        ("INV-2026-004612", 1, "one digit different"),
        ("900045120", 2, "one digit too many"),
    ],
)
def test_fuzzy_hits_with_one_edit(text: str, item_id: int, edit: str) -> None:
    amount = next(i["open_amount_minor"] for i in ITEMS if i["item_id"] == item_id)
    hits = _hits([receipt(1, amount, remittance=text)])
    fuzzy = hits.filter((pl.col("match") == "fuzzy") & (pl.col("item_id") == item_id))
    assert fuzzy.height == 1
    token, key = fuzzy.row(0, named=True)["token"], fuzzy.row(0, named=True)["key"]
    assert describe_edit(token, key) == edit


def test_two_edits_are_not_a_fuzzy_hit() -> None:
    hits = _hits([receipt(1, 100_00, remittance="INV-2026-005421")])
    assert hits.filter(pl.col("item_id") == 1).is_empty()


def test_valid_rf_reference_is_never_fuzzy_matched() -> None:
    # Check digits hold: the payer meant exactly this reference, even if another differs by one digit.
    other = rf_make("4712")
    hits = _hits([receipt(1, 300_00, creditor_reference=other)])
    assert hits.filter(pl.col("item_id") == 3).is_empty()


def test_broken_qrr_is_fuzzy_matched() -> None:
    broken = "210000000003139471430009027"  # one digit wrong: the check digit fails
    assert qrr_check_digit(broken[:26]) != broken[26]
    hits = _hits([receipt(1, 500_00, creditor_reference=broken)])
    assert hits.filter(pl.col("item_id") == 5)["match"].to_list() == ["fuzzy"]


@pytest.mark.parametrize(
    ("amount", "payer", "found"),
    [
        (100_00, None, True),  # open amount equal
        (109_00, None, True),  # within 10 %
        (112_00, None, False),  # neither near the amount (10 % of the receipt) ...
        (112_00, "C1", True),  # ... but the payer's customer: a lead
    ],
)
def test_fuzzy_hits_need_a_near_amount_or_a_customer_lead(amount: int, payer: str | None, found: bool) -> None:
    payers = pl.DataFrame({"receipt_id": [1], "customer_id": [payer]}) if payer else None
    got = reference_hits(
        frame([receipt(1, amount, remittance="INV-2026-004521")], RECEIPTS),
        frame(ITEMS, OPEN_ITEMS),
        default_rules(),
        payers,
    ).hits
    assert (not got.filter(pl.col("item_id") == 1).is_empty()) is found


def test_fuzzy_search_skipped_when_exact_hits_explain_the_amount() -> None:
    # 90004512 exactly, and 90004513 would be one edit away: not looked for, the amount fits.
    items = [*ITEMS, item(7, "C4", "90004513", 200_00)]
    found = reference_hits(
        frame([receipt(1, 200_00, remittance="90004512")], RECEIPTS), frame(items, OPEN_ITEMS), default_rules()
    )
    assert found.hits["item_id"].to_list() == [2]
    assert found.settled.to_list() == [1]


def test_hits_are_one_per_receipt_and_document() -> None:
    hits = _hits([receipt(1, 100_00, remittance="INV-2026-004512 INV 2026 004512 2026-4512")])
    assert hits.filter(pl.col("item_id") == 1).height == 1
