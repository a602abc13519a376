"""Scenario builders without a usable reference: identification by IBAN, name and amount,
ambiguous amounts, unknown payers, non-AR credits and debits."""

from __future__ import annotations

from shared.synth import names, refs, remit
from shared.synth.scenarios import SUBSET_MAX_ITEMS, Ctx, Draft, subset_count
from shared.synth.world import Allocation, Customer, OpenItem

_MONTHS = ("01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12")


def _no_ref_text(ctx: Ctx) -> str:
    return ctx.rng.choice(remit.GENERIC_NO_REF)


def _single(ctx: Ctx, idx: int, name: str, account: str, *, needs_details: bool) -> Draft:
    it = ctx.items[idx]
    return Draft(
        it.currency,
        it.open_amount_minor,
        it.customer_id,
        (Allocation(it.document_number, it.signed_open_minor),),
        payer_name=name,
        payer_account=account,
        remittance=_no_ref_text(ctx),
        e2e=remit.e2e_noise(ctx.rng),
        needs_details=needs_details,
        used=(idx,),
    )


def _variant_name(ctx: Ctx, cust: Customer) -> str:
    return cust.customer_name if ctx.rng.random() < 0.3 else ctx.rng.choice(cust.name_variants)


def iban_unique_amount(ctx: Ctx) -> Draft | None:
    """No reference; a known payer IBAN; the only open item with that amount."""

    def ok(it: OpenItem) -> bool:
        return (
            it.document_type == "invoice"
            and not it.has_qrr
            and it.open_amount_minor > 0
            and it.currency in ctx.detail_ccys
            and bool(ctx.customers[it.customer_id].ibans)
            and ctx.unique_amount(it)
        )

    idx = ctx.take("iban_unique_amount", ok)
    if idx is None:
        return None
    cust = ctx.customers[ctx.items[idx].customer_id]
    return _single(ctx, idx, _variant_name(ctx, cust), ctx.rng.choice(cust.ibans), needs_details=True)


def name_unique_amount(ctx: Ctx) -> Draft | None:
    """No reference; IBAN unknown to master data; a name variant; a unique amount."""

    def ok(it: OpenItem) -> bool:
        return (
            it.document_type == "invoice"
            and not it.has_qrr
            and it.open_amount_minor > 0
            and not ctx.customers[it.customer_id].ibans
            and ctx.unique_amount(it)
        )

    idx = ctx.take("name_unique_amount", ok)
    if idx is None:
        return None
    cust = ctx.customers[ctx.items[idx].customer_id]
    account = ctx.rng.choice(cust.other_accounts) if cust.other_accounts and ctx.rng.random() < 0.8 else ""
    return _single(ctx, idx, _variant_name(ctx, cust), account, needs_details=False)


def iban_subset_sum(ctx: Ctx) -> Draft | None:
    """No reference; a known IBAN; exactly one subset of the open items sums to it."""
    rng = ctx.rng

    def ok(c: Customer) -> bool:
        return bool(c.ibans) and c.currency in ctx.detail_ccys

    while (cust := ctx.take_customer("iban_subset_sum", ok)) is not None:
        group = ctx.group_amounts(cust.customer_id, cust.currency)
        invoices = ctx.unused_invoices(cust.customer_id, cust.currency)
        if not 2 <= len(group) <= SUBSET_MAX_ITEMS or len(invoices) < 2:
            continue
        for _ in range(4):
            chosen = rng.sample(invoices, min(len(invoices), rng.choice((2, 2, 3))))
            total = sum(ctx.items[i].open_amount_minor for i in chosen)
            if subset_count(group, total) == 1:
                allocs = tuple(
                    Allocation(ctx.items[i].document_number, ctx.items[i].open_amount_minor) for i in chosen
                )
                return Draft(
                    cust.currency,
                    total,
                    cust.customer_id,
                    allocs,
                    payer_name=_variant_name(ctx, cust),
                    payer_account=rng.choice(cust.ibans),
                    remittance=_no_ref_text(ctx),
                    e2e=remit.e2e_noise(rng),
                    needs_details=True,
                    used=tuple(chosen),
                )
    return None


def ambiguous_amount(ctx: Ctx) -> Draft | None:
    """No reference; the customer has two open items of this amount: an exception."""
    pos = ctx.cursors.get("ambiguous_amount", 0)
    while pos < len(ctx.pairs):
        a, b = ctx.pairs[pos]
        pos += 1
        if ctx.used[a] or ctx.used[b]:
            continue
        ctx.cursors["ambiguous_amount"] = pos
        it = ctx.items[a]
        cust = ctx.customers[it.customer_id]
        usable_iban = bool(cust.ibans) and it.currency in ctx.detail_ccys
        account = ctx.rng.choice(cust.ibans) if usable_iban else ""
        d = _single(ctx, a, _variant_name(ctx, cust), account, needs_details=usable_iban)
        d.used = (a, b)
        return d
    ctx.cursors["ambiguous_amount"] = pos
    return None


def _currency(ctx: Ctx) -> str:
    return ctx.rng.choices(("EUR", "CHF", "GBP", "USD"), weights=(75, 9, 10, 6))[0]


def _random_amount(ctx: Ctx, low: int, high: int) -> int:
    return ctx.rng.randrange(low, high)


def unknown_payer(ctx: Ctx) -> Draft:
    """A private person nobody knows, no reference: an exception."""
    rng = ctx.rng
    account = refs.random_iban(rng, rng.choice(("DE", "NL", "FR", "AT"))) if rng.random() < 0.8 else ""
    return Draft(
        _currency(ctx),
        _random_amount(ctx, 1_000, 300_000),
        None,
        payer_name=names.person_name(rng),
        payer_account=account,
        remittance=rng.choice(remit.PRIVATE_TEXTS),
        e2e=remit.e2e_noise(rng),
    )


def non_ar_interest(ctx: Ctx) -> Draft:
    """Credit interest from the house bank: not a customer payment."""
    rng = ctx.rng
    currency = _currency(ctx)
    bank = next(a.bank_name for a in ctx.world.house_accounts if a.currency == currency)
    year = ctx.world.start.year
    quarter = rng.randrange(4)
    if currency in ("EUR", "CHF"):
        text = rng.choice(
            (
                f"Habenzinsen {quarter + 1}. Quartal {year}",
                "Abschluss Habenzinsen",
                "Zinsgutschrift Tagesgeld",
            )
        )
    else:
        text = rng.choice((f"Credit interest Q{quarter + 1} {year}", "INTEREST PAID", "Interest credit"))
    return Draft(
        currency, _random_amount(ctx, 100, 50_000), None, payer_name=bank, remittance=text, kind="interest"
    )


def non_ar_tax_refund(ctx: Ctx) -> Draft:
    """A tax refund: not a customer payment."""
    rng = ctx.rng
    payer, template = rng.choice(names.TAX_PAYERS)
    year = ctx.world.start.year - 1
    text = template.format(
        year=year,
        n3=rng.randrange(100, 1000),
        n5=rng.randrange(10_000, 100_000),
        mm=rng.choice(_MONTHS),
        q=rng.randrange(1, 5),
    )
    currency = "GBP" if payer.startswith("HMRC") else "EUR"
    country = {"HMRC VAT": "GB", "Belastingdienst": "NL"}.get(payer, "DE")
    return Draft(
        currency,
        _random_amount(ctx, 10_000, 5_000_000),
        None,
        payer_name=payer,
        payer_account=refs.random_iban(rng, country),
        remittance=text,
    )


def non_ar_intercompany(ctx: Ctx) -> Draft:
    """A transfer from a group company: not a customer payment."""
    rng = ctx.rng
    payer = rng.choice(names.GROUP_COMPANIES)
    text = rng.choice(
        (
            f"Intercompany Verrechnung {rng.choice(_MONTHS)}/{ctx.world.start.year}",
            "IC settlement",
            "Cash pooling transfer",
            "Konzernverrechnung Darlehen",
        )
    )
    return Draft(
        _currency(ctx),
        _random_amount(ctx, 100_000, 20_000_000),
        None,
        payer_name=payer,
        payer_account=refs.random_iban(rng, rng.choice(("DE", "NL", "CH", "GB"))),
        remittance=text,
        e2e=remit.internal_ref(rng),
    )


def debit(ctx: Ctx) -> Draft:
    """An outgoing payment (sometimes refunding a credit note): always ignored."""
    rng = ctx.rng
    if rng.random() < 0.1:  # refund of a customer's credit note: quotes our document, still a debit
        idx = ctx.take("debit", lambda it: it.document_type == "credit_note" and it.open_amount_minor > 0)
        if idx is not None:
            it = ctx.items[idx]
            cust = ctx.customers[it.customer_id]
            name, account = ctx.payer(cust)
            return Draft(
                it.currency,
                -it.open_amount_minor,
                None,
                payer_name=name,
                payer_account=account,
                remittance=f"Erstattung Gutschrift {it.document_number}",
                used=(idx,),
                kind="debit",
            )
    payee = rng.choice(names.SUPPLIERS)
    text = rng.choice(
        (
            "Miete",
            "Lohn/Gehalt",
            "Lieferantenzahlung",
            "Strom Abschlag",
            "Versicherungsbeitrag",
            "Porto",
            "Leasingrate",
        )
    )
    return Draft(
        _currency(ctx),
        -_random_amount(ctx, 1_000, 2_000_000),
        None,
        payer_name=payee,
        payer_account=refs.random_iban(rng, "DE"),
        remittance=text,
        e2e=remit.e2e_noise(rng),
        kind="debit",
    )
