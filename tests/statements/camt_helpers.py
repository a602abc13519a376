"""Builders for small camt documents used by the camt tests (not a test module itself)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from shared.statements.camt import CamtParser
from shared.statements.model import Statement

NS = "urn:iso:std:iso:20022:tech:xsd:camt.{kind}.001.{version:02d}"
MESSAGE = {"052": ("BkToCstmrAcctRpt", "Rpt"), "053": ("BkToCstmrStmt", "Stmt"),
           "054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn")}
# Every real and golden camt file: the corpus beside the repository, then the project's own.
_ROOT = Path(__file__).resolve().parents[2]
CAMT_FILES = sorted((_ROOT / ".." / "shared" / "corpus" / "camt").glob("*.xml")) + sorted(
    (_ROOT / "tests" / "golden" / "camt").glob("*.xml"))
ACCOUNT = "<Acct><Id><IBAN>DE02120300000000202051</IBAN></Id><Ccy>EUR</Ccy></Acct>"


def balance(code: str, amount: str, ind: str = "CRDT", ccy: str = "EUR", day: str = "2024-03-12") -> str:
    """A ``Bal`` element."""
    return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"{ccy}\">{amount}</Amt>"
            f"<CdtDbtInd>{ind}</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>")


def entry(amount: str = "10.00", ind: str = "CRDT", *, ccy: str = "EUR", sts: str = "<Sts>BOOK</Sts>",
          booking: str = "<BookgDt><Dt>2024-03-12</Dt></BookgDt>", details: str = "", more: str = "") -> str:
    """An ``Ntry`` element; ``details`` goes inside ``NtryDtls`` (one or more ``TxDtls``)."""
    dtls = f"<NtryDtls>{details}</NtryDtls>" if details else ""
    return (f"<Ntry><Amt Ccy=\"{ccy}\">{amount}</Amt><CdtDbtInd>{ind}</CdtDbtInd>{sts}{booking}"
            f"<AcctSvcrRef>NTRY-REF</AcctSvcrRef>{more}{dtls}</Ntry>")


def tx(inner: str) -> str:
    """A ``TxDtls`` element."""
    return f"<TxDtls>{inner}</TxDtls>"


def document(body: str, *, kind: str = "053", version: int = 2, account: str = ACCOUNT,
             header: str = "<Id>S-1</Id><CreDtTm>2024-03-12T20:00:00</CreDtTm>") -> str:
    """A full camt document with one record holding ``body`` (balances and entries)."""
    message, record = MESSAGE[kind]
    ns = NS.format(kind=kind, version=version)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{ns}"><{message}>'
            f"<GrpHdr><MsgId>M-1</MsgId><CreDtTm>2024-03-12T20:00:00</CreDtTm></GrpHdr>"
            f"<{record}>{header}{account}{body}</{record}></{message}></Document>\n")


def parse_text(tmp_path: Path, text: str | bytes, name: str = "camt.xml") -> list[Statement]:
    """Write ``text`` to a file and parse it completely."""
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return list(CamtParser().parse(path))


def canonical(statements: list[Statement]) -> list[dict[str, Any]]:
    """JSON-ready form of statements for golden files (audit ``raw`` text left out)."""
    out = []
    for statement in statements:
        data = asdict(statement)
        data.pop("raw_header")
        for line in data["lines"]:
            line.pop("raw")
        out.append(json.loads(json.dumps(data, default=str)))
    return out
