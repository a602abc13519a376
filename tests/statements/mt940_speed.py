"""Measure MT940 parse speed (:61: lines per second of CPU) and peak memory. Not a test; by hand:

    .venv/bin/python -m tests.statements.mt940_speed [lines] [lines-per-statement]

The generated file alternates German GVC/SEPA and ING-style structured :86: details (the two
heaviest dialects), in SWIFT blocks, 1,000 lines per statement by default.
"""

from __future__ import annotations

import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from shared.statements.mt940 import Mt940Parser


def _amount(minor: int) -> str:
    return f"{minor // 100},{minor % 100:02d}"


def generate(path: Path, lines: int, per_statement: int) -> None:
    """Write ``lines`` :61: lines (with :86:) in statements of ``per_statement`` lines."""
    rnd = random.Random(1)
    with path.open("w", encoding="utf-8", newline="") as out:
        k = 0
        while k < lines:
            out.write("{1:F01INGBNL2AXXXX0000000000}{2:I940INGBNL2AXXXXN}{4:\r\n"
                      f":20:STMT{k}\r\n:25:NL91ABNA0417164300\r\n:28C:{k // per_statement}/1\r\n"
                      ":60F:C250101EUR0,00\r\n")
            balance = 0
            for i in range(min(per_statement, lines - k)):
                minor = rnd.randint(1, 10**7)
                if i % 2:
                    balance += minor
                    out.write(f":61:2501020102C{_amount(minor)}NTRFINV{k}//B{k}\r\n"
                              f":86:/EREF/E2E{k}//CNTP/NL91ABNA0417164300/ABNANL2A/CUSTOMER {k}/AM"
                              f"STERDAM//REMI/USTD//INVOICE {k} AND {k + 1}/\r\n")
                else:
                    balance -= minor
                    out.write(f":61:2501020102D{_amount(minor)}NTRFNONREF//B{k}\r\n"
                              f":86:166?00GUTSCHRIFT?100399?20EREF+E2E{k}?21SVWZ+Rechnung {k} Ku"
                              f"nde?2212345?30COBADEFFXXX?31DE89370400440532013000?32KUNDE {k} GMBH\r\n")
                k += 1
            mark = "C" if balance >= 0 else "D"
            out.write(f":62F:{mark}250102EUR{_amount(abs(balance))}\r\n-}}\r\n")


def main() -> None:
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    per_statement = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speed.sta"
        generate(path, lines, per_statement)
        size = path.stat().st_size
        start = time.process_time()
        count = sum(len(s.lines) for s in Mt940Parser().parse(path))
        elapsed = time.process_time() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{count:,} lines ({size / 1e6:.1f} MB) in {elapsed:.2f} s CPU: "
          f"{count / elapsed:,.0f} :61: lines/s; peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
