"""Measure OFX parse speed (lines/s): our reader vs ofxparse. Not a test; run by hand:

    .venv/bin/python -m tests.statements.ofx_speed [transactions]
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from pathlib import Path

HEADER = """OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:1252
COMPRESSION:NONE
OLDFILEUID:NONE
NEWFILEUID:NONE

<OFX>
<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS><DTSERVER>20240131<LANGUAGE>ENG</SONRS>
</SIGNONMSGSRSV1>
<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<STMTRS><CURDEF>USD<BANKACCTFROM><BANKID>121000248<ACCTID>4000123456<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST><DTSTART>20240101<DTEND>20240131
"""
TRN = """<STMTTRN>
<TRNTYPE>CREDIT
<DTPOSTED>20240115120000.000[-5:EST]
<TRNAMT>{amount}
<FITID>FIT{i:08d}
<NAME>CUSTOMER {i}
<MEMO>INVOICE INV-{i:06d} PAYMENT
</STMTTRN>
"""
FOOTER = """</BANKTRANLIST><LEDGERBAL><BALAMT>1000.00<DTASOF>20240131</LEDGERBAL>
</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>
"""


def make_ofx(n: int) -> str:
    """A synthetic OFX 1.02 statement with ``n`` transactions."""
    body = "".join(TRN.format(i=i, amount=f"{i % 9973}.{i % 100:02d}") for i in range(n))
    return HEADER + body + FOOTER


def main() -> None:
    """Time both readers on the same file and print lines per second."""
    import ofxparse

    from shared.statements.ofx import OfxParser

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    text = make_ofx(n)
    lines = text.count("\n")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.ofx"
        path.write_text(text)
        t0 = time.perf_counter()
        ours = list(OfxParser().parse(path))
        t1 = time.perf_counter()
        theirs = ofxparse.OfxParser.parse(io.BytesIO(text.encode()))
        t2 = time.perf_counter()
    assert len(ours[0].lines) == len(theirs.account.statement.transactions) == n
    print(f"{lines} lines, {n} transactions")
    print(f"cashrecon ofx: {t1 - t0:.3f}s = {lines / (t1 - t0):,.0f} lines/s")
    print(f"ofxparse:      {t2 - t1:.3f}s = {lines / (t2 - t1):,.0f} lines/s")


if __name__ == "__main__":
    main()
