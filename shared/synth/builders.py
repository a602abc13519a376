"""Scenario builders for receipts that carry a reference (document number, RF, QRR, EREF).

Each builder returns a :class:`Draft` or ``None`` when no suitable open item is left. The
no-reference and non-AR builders live in :mod:`shared.synth.builders_noref`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from shared.synth import names, refs, remit
from shared.synth.mix import Residual, discount_minor
from shared.synth.scenarios import Ctx, Draft
from shared.synth.world import Allocation, OpenItem


def _is_invoice(it: OpenItem) -> bool:
    """An unpaid invoice for the general scenarios (QR-bill invoices are kept for their own)."""
    return it.document_type == "invoice" and it.open_amount_minor > 0 and not it.has_qrr


def _full(it: OpenItem) -> tuple[Allocation, ...]:
    return (Allocation(it.document_number, it.signed_open_minor),)


def _with_noise(ctx: Ctx, text: str, it: OpenItem) -> str:
    """Sometimes add the payer's customer number, an order number or a date, never a real doc."""
    if ctx.rng.random() >= 0.35:
        return text
    extra = remit.noise(ctx.rng, it.customer_id, f"{it.document_date:%d.%m.%Y}")
    if not ctx.reference_free(extra) or any(not ctx.reference_free(w) for w in extra.split()):
        return text
    return f"{text} {extra}" if ctx.rng.random() < 0.7 else f"{extra} {text}"


def _draft_for(ctx: Ctx, idx: int, amount: int, *, erp_style: bool = False, **fields: object) -> Draft:
    """A payment of ``amount`` by the item's customer naming the document in the remittance."""
    it = ctx.items[idx]
    cust = ctx.customers[it.customer_id]
    name, account = ctx.payer(cust)
    text = remit.phrase(
        ctx.rng, cust.country, [remit.spell(ctx.rng, it.document_number, erp_style=erp_style)]
    )
    d = Draft(
        it.currency,
        amount,
        it.customer_id,
        _full(it),
        payer_name=name,
        payer_account=account,
        remittance=_with_noise(ctx, text, it),
        e2e=remit.e2e_noise(ctx.rng),
        used=(idx,),
    )
    for key, value in fields.items():
        setattr(d, key, value)
    return d


def exact_docnum(ctx: Ctx) -> Draft | None:
    """An invoice paid in full, its number written (in some spelling) in the remittance."""
    idx = ctx.take("exact_docnum", _is_invoice)
    if idx is None:
        return None
    return _draft_for(ctx, idx, ctx.items[idx].open_amount_minor)


def erp_number(ctx: Ctx) -> Draft | None:
    """A numeric ERP invoice number written with zero padding added or dropped."""
    idx = ctx.take("erp_number", lambda it: _is_invoice(it) and it.document_number.isdigit())
    if idx is None:
        return None
    return _draft_for(ctx, idx, ctx.items[idx].open_amount_minor, erp_style=True)


def rf_reference(ctx: Ctx) -> Draft | None:
    """An RF creditor reference, structured (camt SCOR) or typed into the free text."""
    idx = ctx.take("rf_reference", lambda it: _is_invoice(it) and it.payment_reference.startswith("RF"))
    if idx is None:
        return None
    it = ctx.items[idx]
    d = _draft_for(ctx, idx, it.open_amount_minor)
    if ctx.rng.random() < 0.6:  # structured field (camt Strd/CdtrRefInf SCOR); text stays generic
        d.cref, d.cref_type = it.payment_reference, "SCOR"
        d.remittance = ctx.rng.choice(("", "", it.payment_reference, remit.GENERIC_NO_REF[1]))
    else:  # written into the free text, usually in print form
        ref = refs.group(it.payment_reference) if ctx.rng.random() < 0.6 else it.payment_reference
        d.remittance = ref if ctx.rng.random() < 0.5 else f"{ref} {remit.GENERIC_NO_REF[3]}"
    return d


def qrr_reference(ctx: Ctx) -> Draft | None:
    """A Swiss CHF invoice paid with its QR reference (camt Prtry QRR)."""
    idx = ctx.take("qrr_reference", lambda it: it.has_qrr and it.open_amount_minor > 0)
    if idx is None:
        return None
    it = ctx.items[idx]
    d = _draft_for(ctx, idx, it.open_amount_minor)
    d.cref, d.cref_type = it.payment_reference, "QRR"
    d.remittance = ctx.rng.choice(("", "", "Zahlung", refs.qrr_print_form(it.payment_reference)))
    return d


def e2e_reference(ctx: Ctx) -> Draft | None:
    """The document number travels in the end-to-end id; the free text says nothing."""
    idx = ctx.take("e2e_reference", lambda it: _is_invoice(it) and it.currency in ctx.detail_ccys)
    if idx is None:
        return None
    it = ctx.items[idx]
    d = _draft_for(ctx, idx, it.open_amount_minor, needs_details=True)
    d.e2e = remit.spell(ctx.rng, it.document_number)
    d.remittance = ctx.rng.choice(remit.GENERIC_NO_REF)
    return d


def fuzzy_reference(ctx: Ctx) -> Draft | None:
    """The number with one typo (swap / drop / wrong digit); the exact amount confirms it."""

    def ok(it: OpenItem) -> bool:
        return _is_invoice(it) and ctx.counts[(it.customer_id, it.currency, it.signed_open_minor)] == 1

    while (idx := ctx.take("fuzzy_reference", ok)) is not None:
        it = ctx.items[idx]
        for _ in range(8):
            typo = remit.mutate(ctx.rng, it.document_number)
            if ctx.reference_free(typo) and ctx.digits_free(typo):
                d = _draft_for(ctx, idx, it.open_amount_minor)
                spelled = typo if "-" not in typo else remit.spell(ctx.rng, typo)
                d.remittance = remit.phrase(ctx.rng, ctx.customers[it.customer_id].country, [spelled])
                return d
    return None


def _pick_multi(ctx: Ctx, key: str, want_credit: bool) -> tuple[list[int], list[int]] | None:
    """Invoices (2-5, or 1-3 with a credit note) of one customer and currency, all unpaid."""
    rng = ctx.rng

    while (cust := ctx.take_customer(key, lambda c: True)) is not None:
        invoices = ctx.unused_invoices(cust.customer_id, cust.currency)
        credits = [
            i
            for i in ctx.by_customer.get(cust.customer_id, ())
            if not ctx.used[i]
            and ctx.items[i].document_type == "credit_note"
            and ctx.items[i].currency == cust.currency
        ]
        if want_credit:
            if not invoices or not credits:
                continue
            chosen = rng.sample(invoices, min(len(invoices), rng.choice((1, 1, 2, 3))))
            total = sum(ctx.items[i].open_amount_minor for i in chosen)
            credit = [i for i in credits if ctx.items[i].open_amount_minor < total]
            if not credit:
                continue
            return chosen, [rng.choice(credit)]
        if len(invoices) < 2:
            continue
        k = min(len(invoices), rng.choices((2, 3, 4, 5), weights=(50, 25, 15, 10))[0])
        return rng.sample(invoices, k), []
    return None


def _multi(ctx: Ctx, key: str, want_credit: bool) -> Draft | None:
    picked = _pick_multi(ctx, key, want_credit)
    if picked is None:
        return None
    invoices, credits = picked
    rng, first = ctx.rng, ctx.items[invoices[0]]
    cust = ctx.customers[first.customer_id]
    tokens = [remit.spell(rng, ctx.items[i].document_number) for i in invoices]
    text = remit.phrase(rng, cust.country, tokens)
    if credits:
        text += " " + remit.less_credit(cust.country, remit.spell(rng, ctx.items[credits[0]].document_number))
    chosen = invoices + credits
    allocs = tuple(Allocation(ctx.items[i].document_number, ctx.items[i].signed_open_minor) for i in chosen)
    name, account = ctx.payer(cust)
    return Draft(
        first.currency,
        sum(a.amount_minor for a in allocs),
        cust.customer_id,
        allocs,
        payer_name=name,
        payer_account=account,
        remittance=text,
        e2e=remit.e2e_noise(rng),
        used=tuple(chosen),
    )


def multi_invoice(ctx: Ctx) -> Draft | None:
    """Two to five invoices of one customer in one payment, all listed."""
    return _multi(ctx, "multi_invoice", want_credit=False)


def multi_with_credit_note(ctx: Ctx) -> Draft | None:
    """Invoices less a credit note, all listed; the credit note is cleared negative."""
    return _multi(ctx, "multi_with_credit_note", want_credit=True)


def third_party(ctx: Ctx) -> Draft | None:
    """A factor or another customer pays, quoting the invoice: the document decides."""
    idx = ctx.take("third_party", _is_invoice)
    if idx is None:
        return None
    it, rng = ctx.items[idx], ctx.rng
    d = _draft_for(ctx, idx, it.open_amount_minor)
    owner = ctx.customers[it.customer_id]
    others = ctx.world.customers
    other = others[rng.randrange(len(others))]
    if other.customer_id != owner.customer_id and other.ibans and rng.random() < 0.5:
        # another customer pays (sister company): its own IBAN is known - the document must win
        d.payer_name, d.payer_account = other.customer_name, rng.choice(other.ibans)
    else:
        d.payer_name = rng.choice(names.FACTORING_PAYERS)
        d.payer_account = refs.random_iban(rng, rng.choice(("DE", "NL", "GB", "FR")))
    if rng.random() < 0.5:
        d.remittance = f"{d.remittance} {rng.choice(('für', 'for', 'i.A.', 'obo'))} {owner.customer_name}"
    return d


def _deducted(
    ctx: Ctx, key: str, min_open: int, cls: Residual, delta: Callable[[OpenItem], int]
) -> Draft | None:
    idx = ctx.take(key, lambda it: _is_invoice(it) and it.open_amount_minor >= min_open)
    if idx is None:
        return None
    it = ctx.items[idx]
    diff = delta(it)
    cleared = it.open_amount_minor - diff if cls is Residual.SHORT_PAYMENT else it.open_amount_minor
    d = _draft_for(ctx, idx, it.open_amount_minor - diff, residual_class=cls, residual_minor=-diff)
    d.allocations = (Allocation(it.document_number, cleared),)
    return d


def bank_charges(ctx: Ctx) -> Draft | None:
    """Referenced payment with 0.50-15.00 (at most 1 %) bank charges deducted."""
    ded = ctx.ded

    def charge(it: OpenItem) -> int:
        cap = min(ded.charge_max, it.open_amount_minor * ded.charge_max_permille // 1000)
        value = ctx.rng.randint(ded.charge_min, cap)
        # never exactly the early-payment discount of the invoice: that would be a discount
        return value - 1 if value == discount_minor(it.amount_minor, ded.discount_pct) else value

    min_open = ded.charge_min * 1000 // ded.charge_max_permille + 100  # permille cap stays >= charge_min + 1
    return _deducted(ctx, "bank_charges", min_open, Residual.BANK_CHARGE, charge)


def short_payment(ctx: Ctx) -> Draft | None:
    """Referenced payment short by 25.01-50.00 (at most 1 %); the rest stays open."""
    ded = ctx.ded
    min_open = ded.short_min * 1000 // ded.short_max_permille + 100  # permille cap stays >= short_min

    def short(it: OpenItem) -> int:
        cap = min(ded.short_max, it.open_amount_minor * ded.short_max_permille // 1000)
        return ctx.rng.randint(ded.short_min, cap)

    return _deducted(ctx, "short_payment", min_open, Residual.SHORT_PAYMENT, short)


def overpayment(ctx: Ctx) -> Draft | None:
    """Referenced payment 1.00-50.00 too high; the surplus stays on account."""
    ded = ctx.ded
    return _deducted(
        ctx,
        "overpayment",
        1_000,
        Residual.OVERPAYMENT,
        lambda it: -ctx.rng.randint(ded.over_min, ded.over_max),
    )


def early_discount(ctx: Ctx) -> Draft | None:
    """Invoice paid within the discount window less exactly the discount."""
    ded, first = ctx.ded, ctx.world.business_days[0]
    window = timedelta(days=ded.discount_days)

    def ok(it: OpenItem) -> bool:
        return (
            _is_invoice(it)
            and it.open_amount_minor == it.amount_minor
            and it.amount_minor >= 100_000
            and it.document_date + window >= first
        )

    idx = ctx.take("early_discount", ok)
    if idx is None:
        return None
    it = ctx.items[idx]
    disc = discount_minor(it.amount_minor, ded.discount_pct)
    d = _draft_for(
        ctx,
        idx,
        it.open_amount_minor - disc,
        residual_class=Residual.DISCOUNT,
        residual_minor=-disc,
        latest=it.document_date + window,
    )
    d.allocations = _full(it)
    if ctx.rng.random() < 0.5:
        d.remittance = f"{d.remittance} {remit.discount_note(ctx.customers[it.customer_id].country)}"
    return d


def _builders() -> dict[str, Callable[[Ctx], Draft | None]]:
    from shared.synth import builders_noref as nr

    return {
        "exact_docnum": exact_docnum,
        "erp_number": erp_number,
        "rf_reference": rf_reference,
        "qrr_reference": qrr_reference,
        "e2e_reference": e2e_reference,
        "fuzzy_reference": fuzzy_reference,
        "multi_invoice": multi_invoice,
        "multi_with_credit_note": multi_with_credit_note,
        "third_party": third_party,
        "bank_charges": bank_charges,
        "short_payment": short_payment,
        "early_discount": early_discount,
        "overpayment": overpayment,
        "iban_unique_amount": nr.iban_unique_amount,
        "iban_subset_sum": nr.iban_subset_sum,
        "name_unique_amount": nr.name_unique_amount,
        "ambiguous_amount": nr.ambiguous_amount,
        "unknown_payer": nr.unknown_payer,
        "non_ar_interest": nr.non_ar_interest,
        "non_ar_tax_refund": nr.non_ar_tax_refund,
        "non_ar_intercompany": nr.non_ar_intercompany,
        "debit": nr.debit,
    }


BUILDERS = _builders()
