"""Document-number keys: the shapes customers copy our numbers in."""

from __future__ import annotations

import pytest

from services.recon.domain.docnum import KEYS, exact_key, flat_key, loose_key


def meets(a: str, b: str) -> bool:
    """True when some key level pairs ``a`` and ``b`` (what matching does)."""
    return any(key(a) and key(a) == key(b) for key in KEYS)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("INV-2026-004512", "inv 2026/4512"),
        ("INV-2026-004512", "INV2026004512"),
        ("INV-2026-004512", "2026004512"),
        ("INV-2026-004512", "RG.NR. 2026-004512"),
        ("90004512", "0090004512"),
        ("90004512", "#90004512"),
        ("90004512", "Re 90004512"),
        ("90004512", "Rechnung Nr. 90004512"),
        ("CN-0001", "cn 1"),
        ("CN-0001", "Credit note 0001"),
        ("FA-77", "Facture 77"),
        ("INV-12", "invoice no. 012"),
    ],
)
def test_same_document_written_differently_meets(ours: str, theirs: str) -> None:
    assert meets(ours, theirs)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("INV-2026-004512", "INV-2026-004513"),
        ("REX12", "12"),  # REX is not a prefix: the letters are part of the number
        ("INV-1", ""),
        ("A-1", "B-1"),
    ],
)
def test_different_documents_do_not_meet(ours: str, theirs: str) -> None:
    assert not meets(ours, theirs)


def test_exact_key_keeps_the_prefix_so_invoice_and_credit_note_differ() -> None:
    assert exact_key("INV-0001") != exact_key("CN-0001")
    assert loose_key("INV-0001") == loose_key("CN-0001") == "1"


def test_keys_of_nothing_are_empty() -> None:
    for key in (exact_key, loose_key, flat_key):
        assert key(None) == ""
        assert key("") == ""
        assert key(" - ") == ""


def test_zero_survives_as_a_number() -> None:
    assert exact_key("000") == "0"
    assert flat_key("INV-000") == "0"
