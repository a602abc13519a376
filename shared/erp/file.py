"""File-export adapter: one CSV per relay run in an outbox folder, written atomically.

A file appears complete or not at all (temporary name, fsync, rename, fsync of the folder), so an
ERP import job polling the folder never reads half a file. A posting key is never written twice:
before writing, the adapter collects the keys already on disk, from the CSVs still in the folder
and from a ledger (``.ledger/<file>.keys``, one key a line) that survives the ERP moving the CSVs
away. The ledger is written right after the rename; a crash between the two is covered by the
CSV itself while it is still in the folder.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import uuid
from collections.abc import Sequence
from pathlib import Path

from shared.erp.base import Ack, Posting, TransientError

COLUMNS = ("posting_key", "kind", "customer_id", "document_number", "currency", "amount",
           "effective_date", "payload_json")
LEDGER_DIR = ".ledger"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class FileAdapter:
    """Write postings as CSV files into ``directory`` (created when missing)."""

    name = "file"

    def __init__(self, directory: Path, prefix: str = "postings") -> None:
        self.directory = Path(directory)
        self.prefix = prefix

    def send(self, posting: Posting) -> Ack:
        """A single posting is a run of its own (one file)."""
        return self.send_batch([posting], uuid.uuid4().hex)[0]

    def send_batch(self, postings: Sequence[Posting], run_id: str) -> list[Ack]:
        """Write the postings not yet on disk into ``<prefix>-<run_id>.csv``; acks for all."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            known = self.written_keys()
            name = f"{self.prefix}-{_SAFE.sub('_', run_id)[:100]}.csv"
            fresh: list[Posting] = []
            for p in postings:
                if p.posting_key not in known:
                    known[p.posting_key] = name
                    fresh.append(p)
            if fresh:
                self._write_atomic(self.directory / name, _csv_bytes(fresh))
                self._write_atomic(self.directory / LEDGER_DIR / f"{name}.keys",
                                   "".join(f"{p.posting_key}\n" for p in fresh).encode())
        except OSError as exc:  # a full disk or a missing mount: worth another try later
            raise TransientError(f"cannot write the ERP export file: {exc}") from exc
        fresh_keys = {p.posting_key for p in fresh}
        return [Ack(p.posting_key, known[p.posting_key], duplicate=p.posting_key not in fresh_keys)
                for p in postings]

    def written_keys(self) -> dict[str, str]:
        """Posting key -> file name, for every key written by any earlier run."""
        keys: dict[str, str] = {}
        ledger = self.directory / LEDGER_DIR
        if ledger.is_dir():
            for f in sorted(ledger.glob("*.keys")):
                for line in f.read_text(encoding="utf-8").splitlines():
                    if line:
                        keys[line] = f.name.removesuffix(".keys")
        for f in sorted(self.directory.glob(f"{self.prefix}-*.csv")):
            with f.open(encoding="utf-8", newline="") as fh:
                for row in csv.DictReader(fh):
                    keys.setdefault(row["posting_key"], f.name)
        return keys

    @staticmethod
    def _write_atomic(target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():  # run ids are unique: never overwrite what a reader may hold
            raise FileExistsError(f"{target} exists already")
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)  # makes the rename itself durable


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _csv_bytes(postings: Sequence[Posting]) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for p in postings:
        pl = p.payload
        writer.writerow([p.posting_key, p.kind, pl.get("customer_id", ""), pl.get("document_number", ""),
                         pl.get("currency", ""), pl.get("amount", ""), pl.get("effective_date", ""),
                         json.dumps(pl, sort_keys=True, separators=(",", ":"))])
    return buf.getvalue().encode("utf-8")
