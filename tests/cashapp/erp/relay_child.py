"""Child process for the crash tests: one relay run against the fake ERP, printed as JSON.

``python -m tests.cashapp.erp.relay_child DB_URL ERP_URL SECRET BATCH`` (``ERP_URL`` ``file:<dir>``
uses the file-export adapter); the parent sets
``CASHRECON_FAULT`` so that the relay kills itself with SIGKILL at the chosen point.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from services.cashapp.usecases.relay import relay_once
from shared.db import make_engine
from shared.erp.base import ErpAdapter
from shared.erp.file import FileAdapter
from shared.erp.http import HttpAdapter


def main() -> None:
    db_url, erp_url, secret, batch = sys.argv[1:5]
    engine = make_engine(db_url)
    adapter: ErpAdapter = (FileAdapter(Path(erp_url.removeprefix("file:"))) if erp_url.startswith("file:")
                           else HttpAdapter(erp_url, secret, attempts=1))
    result = relay_once(engine, adapter, "child", batch=int(batch))
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
