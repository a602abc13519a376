"""The written files: byte-identical per seed, well-formed, balanced, and covered by the truth.

The checks here use small independent readers (regular expressions, lxml), not the project's
parsers, so a bug in a writer cannot hide behind the same bug in a parser.
"""

from __future__ import annotations

import csv
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from shared.synth import World
from shared.synth.camt_writer import NAMESPACE
from shared.synth.writers import CUSTOMER_COLUMNS, OPEN_ITEM_COLUMNS, TRUTH_FILE, write_world

from .conftest import default_world

NS = {"c": NAMESPACE}
SWIFT_X = re.compile(r"^[A-Za-z0-9/\-?:().,'+ ]*$")
LINE_61 = re.compile(r"^:61:(\d{6})(\d{4})([CD])(\d+,\d{0,2})N[A-Z0-9]{3}(.{0,16})//(\S{1,16})$")
BALANCE = re.compile(r"^:6[02]F:([CD])(\d{6})([A-Z]{3})(\d+,\d{0,2})$")
SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _files(out: Path, suffix: str) -> list[Path]:
    return sorted(out.glob(f"*.{suffix}"))


def _cents(text: str) -> int:
    return int(Decimal(text.replace(",", ".")) * 100)


def _mt940_statements(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b""), "MT940 lines must end in CRLF"
    text = raw.decode("ascii")
    blocks = [b for b in text.split("\r\n-\r\n") if b.strip()]
    return [b.split("\r\n") for b in blocks]


def test_same_seed_writes_byte_identical_files(world: World, written: Path, tmp_path: Path) -> None:
    again = default_world(7)
    write_world(again, tmp_path, files=5)
    names = sorted(p.name for p in written.iterdir())
    assert names == sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 8
    for name in names:
        assert (written / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_mt940_lines_are_swift_conformant(written: Path) -> None:
    for path in _files(written, "sta"):
        for stmt in _mt940_statements(path):
            for line in stmt:
                assert len(line) <= 65, line
                assert SWIFT_X.match(line), line
            continuation = [ln for ln in stmt if not ln.startswith(":")]
            assert not any(ln.startswith(("-", ":")) for ln in continuation)


def test_mt940_balances_and_sequences(written: Path, world: World) -> None:
    last: dict[str, tuple[int, int]] = {}  # account -> (statement number, closing)
    refs: set[str] = set()
    statements = 0
    for path in _files(written, "sta"):  # file names sort in date order
        for stmt in _mt940_statements(path):
            statements += 1
            account = next(ln[4:] for ln in stmt if ln.startswith(":25:"))
            number = int(next(ln[5:] for ln in stmt if ln.startswith(":28C:")).split("/")[0])
            balances = []
            for ln in stmt:
                if m := BALANCE.match(ln):
                    balances.append((-1 if m[1] == "D" else 1) * _cents(m[4]))
            opening, closing = balances
            total = 0
            for ln in stmt:
                if ln.startswith(":61:"):
                    m = LINE_61.match(ln)
                    assert m, ln
                    total += (-1 if m[3] == "D" else 1) * _cents(m[4])
                    refs.add(m[6])
            assert opening + total == closing
            if account in last:
                assert number == last[account][0] + 1
                assert opening == last[account][1]
            last[account] = (number, closing)
    assert statements >= 4 and len(last) >= 2
    expected = {r.bank_reference for r in world.receipts if world.account(r.account).format == "mt940"}
    assert refs == expected


def _gvc_fields(details: str) -> dict[str, str]:
    return {m[1]: m[2] for m in re.finditer(r"\?(\d\d)([^?]*)", details)}


def test_mt940_details_dialects(written: Path) -> None:
    dialects = set()
    for path in _files(written, "sta"):
        for stmt in _mt940_statements(path):
            text = "\n".join(stmt)
            for block in re.findall(r":86:(.*?)(?=\n:6[12])", text, flags=re.S):
                details = block.replace("\n", "")
                if details.startswith("/TRTP/"):
                    dialects.add("nl")
                    assert "/REMI/" in details and "/EREF/" in details
                else:
                    dialects.add("gvc")
                    fields = _gvc_fields(details)
                    assert re.match(r"^\d{3}\?00", details)
                    assert all(len(v) <= 27 for k, v in fields.items() if k[0] in "236" and k != "31")
                    assert any(k.startswith("2") for k in fields) or "?00ABSCHLUSS" in details
    assert dialects == {"gvc", "nl"}


def _check_order(parent: etree._Element, order: list[str]) -> None:
    names = [etree.QName(child).localname for child in parent]
    positions = [order.index(n) for n in names]
    assert positions == sorted(positions), (parent.tag, names)


STMT_ORDER = [
    "Id",
    "StmtPgntn",
    "ElctrncSeqNb",
    "RptgSeq",
    "LglSeqNb",
    "CreDtTm",
    "FrToDt",
    "CpyDplctInd",
    "RptgSrc",
    "Acct",
    "RltdAcct",
    "Intrst",
    "Bal",
    "TxsSummry",
    "Ntry",
    "AddtlStmtInf",
]
NTRY_ORDER = [
    "NtryRef",
    "Amt",
    "CdtDbtInd",
    "RvslInd",
    "Sts",
    "BookgDt",
    "ValDt",
    "AcctSvcrRef",
    "Avlbty",
    "BkTxCd",
    "ComssnWvrInd",
    "AddtlInfInd",
    "AmtDtls",
    "Chrgs",
    "TechInptChanl",
    "Intrst",
    "CardTx",
    "NtryDtls",
    "AddtlNtryInf",
]
TX_ORDER = [
    "Refs",
    "Amt",
    "CdtDbtInd",
    "AmtDtls",
    "Avlbty",
    "BkTxCd",
    "Chrgs",
    "Intrst",
    "RltdPties",
    "RltdAgts",
    "LclInstrm",
    "Purp",
    "RltdRmtInf",
    "RmtInf",
    "RltdDts",
    "RltdPric",
    "RltdQties",
    "FinInstrmId",
    "Tax",
    "RtrInf",
    "CorpActn",
    "SfkpgAcct",
    "CshDpst",
    "CardTx",
    "AddtlTxInf",
]


def _signed(el: etree._Element) -> int:
    amount = _cents(el.findtext("c:Amt", namespaces=NS) or "")
    return amount if el.findtext("c:CdtDbtInd", namespaces=NS) == "CRDT" else -amount


def _camt_refs(path: Path) -> tuple[set[str], int]:
    root = etree.parse(str(path), SAFE).getroot()
    assert root.tag == f"{{{NAMESPACE}}}Document"
    refs: set[str] = set()
    batches = 0
    for stmt in root.iterfind("c:BkToCstmrStmt/c:Stmt", NS):
        _check_order(stmt, STMT_ORDER)
        acct = stmt.find("c:Acct/c:Id", NS)
        assert acct is not None and (
            acct.find("c:IBAN", NS) is not None or acct.find("c:Othr/c:Id", NS) is not None
        )
        bal = {
            b.findtext("c:Tp/c:CdOrPrtry/c:Cd", namespaces=NS): _signed(b) for b in stmt.iterfind("c:Bal", NS)
        }
        entries = stmt.findall("c:Ntry", NS)
        assert bal["OPBD"] + sum(_signed(e) for e in entries) == bal["CLBD"]
        for entry in entries:
            _check_order(entry, NTRY_ORDER)
            txs = entry.findall("c:NtryDtls/c:TxDtls", NS)
            assert txs and sum(_signed(t) for t in txs) == _signed(entry)
            batches += len(txs) > 1
            for tx in txs:
                _check_order(tx, TX_ORDER)
                ref = tx.findtext("c:Refs/c:AcctSvcrRef", namespaces=NS)
                refs.add(ref or entry.findtext("c:AcctSvcrRef", namespaces=NS) or "")
    return refs, batches


def test_camt_is_well_formed_balanced_and_complete(written: Path, world: World) -> None:
    refs: set[str] = set()
    for path in _files(written, "xml"):
        found, _ = _camt_refs(path)
        assert not refs & found
        refs |= found
    expected = {r.bank_reference for r in world.receipts if world.account(r.account).format == "camt053"}
    assert refs == expected


def test_camt_structured_references_and_batches(big_world: World, tmp_path: Path) -> None:
    write_world(big_world, tmp_path, files=3)
    path = _files(tmp_path, "xml")[0]
    _, batches = _camt_refs(path)
    assert batches > 0
    root = etree.parse(str(path), SAFE).getroot()
    scor = root.xpath(".//c:CdtrRefInf[c:Tp/c:CdOrPrtry/c:Cd='SCOR']/c:Ref/text()", namespaces=NS)
    qrr = root.xpath(".//c:CdtrRefInf[c:Tp/c:CdOrPrtry/c:Prtry='QRR']/c:Ref/text()", namespaces=NS)
    assert scor and all(r.startswith("RF") for r in scor)
    assert qrr and all(len(r) == 27 and r.isdigit() for r in qrr)
    assert root.findall(".//c:RltdPties/c:Dbtr/c:Pty/c:Nm", NS)
    assert root.findall(".//c:RltdPties/c:DbtrAcct/c:Id/c:IBAN", NS)


def test_ofx_is_xml_with_every_receipt(written: Path, world: World) -> None:
    fitids: set[str] = set()
    for path in _files(written, "ofx"):
        text = path.read_text(encoding="utf-8")
        assert text.startswith("<?xml") and '<?OFX OFXHEADER="200"' in text
        root = etree.fromstring(text.encode(), SAFE)
        for stmtrs in root.iterfind(".//STMTRS"):
            for trn in stmtrs.iterfind(".//STMTTRN"):
                fitids.add(trn.findtext("FITID") or "")
                assert len(trn.findtext("NAME") or "") <= 32
                assert trn.findtext("TRNTYPE") in ("CREDIT", "DEBIT", "INT")
    expected = {r.bank_reference for r in world.receipts if world.account(r.account).format == "ofx"}
    assert fitids == expected and fitids


def test_ofx_ledger_balances_chain_across_files(big_world: World, tmp_path: Path) -> None:
    write_world(big_world, tmp_path, files=6)  # two OFX files per account, consecutive windows
    ledger: dict[str, int] = {}
    chained = 0
    for path in _files(tmp_path, "ofx"):
        root = etree.fromstring(path.read_bytes(), SAFE)
        for stmtrs in root.iterfind(".//STMTRS"):
            account = stmtrs.findtext("BANKACCTFROM/ACCTID") or ""
            moved = sum(_cents(t) for t in stmtrs.xpath(".//STMTTRN/TRNAMT/text()"))
            closing = _cents(stmtrs.findtext("LEDGERBAL/BALAMT") or "")
            if account in ledger:
                assert ledger[account] + moved == closing
                chained += 1
            ledger[account] = closing
    assert chained >= 1


def test_master_data_columns_and_conventions(written: Path, world: World) -> None:
    with (written / "customers.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == CUSTOMER_COLUMNS == ("customer_id", "customer_name", "iban")
    assert len(rows) - 1 == sum(max(1, len(c.ibans)) for c in world.customers)
    assert any(r[2] == "" for r in rows[1:]) and any(r[2] for r in rows[1:])
    with (written / "open_items.csv").open(encoding="utf-8", newline="") as fh:
        items = list(csv.DictReader(fh))
    assert (
        tuple(items[0])
        == OPEN_ITEM_COLUMNS
        == (
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
    )
    assert len(items) == len(world.open_items)
    assert {i["document_type"] for i in items} == {"invoice", "credit_note"}
    for i in items:
        assert re.match(r"^\d+\.\d{2}$", i["amount"]) and re.match(r"^\d+\.\d{2}$", i["open_amount"])
        assert Decimal(i["open_amount"]) <= Decimal(i["amount"])
        assert re.match(r"^\d{4}-\d{2}-\d{2}$", i["document_date"])


def test_truth_covers_every_receipt_in_the_files(written: Path, world: World) -> None:
    lines = (written / TRUTH_FILE).read_text(encoding="utf-8").splitlines()
    records = [json.loads(ln) for ln in lines]
    assert len(records) == len(world.receipts)
    keys = {(r["bank_reference"], r["statement_account"]) for r in records}
    assert len(keys) == len(records)
    assert keys == {(r.bank_reference, r.account) for r in world.receipts}
    files = {p.name for p in written.iterdir()}
    for rec in records:
        assert rec["file"] in files and rec["format"] in ("mt940", "camt053", "ofx")
        assert rec["outcome"] in ("apply", "exception", "ignore")
        assert all(isinstance(a["amount_minor"], int) for a in rec["allocations"])


def test_too_few_files_for_the_formats_is_refused(world: World, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 3 files"):
        write_world(world, tmp_path, files=2)


@pytest.mark.parametrize("currency", ["EUR", "JPY", "KWD", "CHF"])
def test_decimal_text_matches_money_format(currency: str) -> None:
    from shared.money import format_minor
    from shared.synth.statements import decimal_text

    for minor in [0, 1, -1, 5, 99, 100, 101, -12345, 10**12 + 7, -(10**9)]:
        assert decimal_text(minor, currency) == format_minor(minor, currency)
