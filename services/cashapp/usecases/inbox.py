"""The watch folder: pick up complete files, import each once, file them away with a reason.

Layout under the folder root::

    inbox/            files dropped here (write as ``.name.part`` or elsewhere, then rename in)
    inbox/archive/    imported
    inbox/duplicates/ already imported (same bytes, or every statement known)
    inbox/quarantine/ refused, with ``<name>.reason.json`` beside it

A file is complete when it arrived by an atomic rename or when its size and modification time
have not changed for ``stable_seconds`` (a writer still appending keeps touching the mtime).
Names are sanitised and every move stays inside the folder: path separators, ``..``, control
characters and over-long names cannot escape it, and symlinks are never followed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from services.cashapp.usecases.ingest import BalancePolicy, IngestBatch, IngestResult, ingest_path
from shared.errors import DomainError

log = logging.getLogger(__name__)

SUBDIRS = {"imported": "archive", "duplicate": "duplicates", "quarantined": "quarantine"}
_IGNORED_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".filepart")
_MAX_NAME = 120


def safe_name(name: str) -> str:
    """A file name that is safe to create inside a folder (no separators, dots-only, controls)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "_", base)
    base = re.sub(r"[^\w.\-+@=,() ]", "_", base).strip(" .")
    if not base or set(base) <= {"."}:
        base = "unnamed"
    if len(base) > _MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        ext = ext[:16] if dot else ""
        base = (stem if dot else base)[: _MAX_NAME - len(ext) - 1] + ("." + ext if ext else "")
    return base


def ensure_layout(root: Path) -> None:
    """Create the sub-folders; refuse to work when one of them is a symlink (it could escape)."""
    root.mkdir(parents=True, exist_ok=True)
    for sub in SUBDIRS.values():
        target = root / sub
        if target.is_symlink():
            raise DomainError(f"{target} is a symlink; refusing to write through it",
                              code="INBOX_UNSAFE_LAYOUT")
        target.mkdir(exist_ok=True)


def candidates(root: Path) -> list[Path]:
    """Entries directly in ``root`` that may be bank files (hidden and partial files excluded)."""
    out = []
    with os.scandir(root) as it:
        for entry in it:
            if entry.name.startswith(".") or entry.name.lower().endswith(_IGNORED_SUFFIXES):
                continue
            if entry.is_symlink() or entry.is_file(follow_symlinks=False):
                out.append(Path(entry.path))
    return sorted(out)


def is_complete(path: Path, stable_seconds: float, now: float | None = None) -> bool:
    """True when the file has not been written to for ``stable_seconds``."""
    st = path.lstat()
    return ((now if now is not None else time.time()) - st.st_mtime) >= stable_seconds


def _destination(root: Path, status: str, name: str, sha: str | None) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    prefix = f"{stamp}-{(sha or 'nohash')[:8]}-"
    dest = root / SUBDIRS[status] / (prefix + safe_name(name))
    n = 1
    while dest.exists() or dest.is_symlink():
        dest = root / SUBDIRS[status] / f"{prefix}{n}-{safe_name(name)}"
        n += 1
    # Belt and braces: the resolved parent must be the sub-folder itself.
    if dest.parent.resolve() != (root / SUBDIRS[status]).resolve():
        raise DomainError("destination escapes the folder", code="INBOX_UNSAFE_LAYOUT")
    return dest


def file_away(root: Path, path: Path, result: IngestResult) -> Path:
    """Move ``path`` into its sub-folder and write ``<dest>.reason.json`` beside it."""
    dest = _destination(root, result.status, path.name, result.sha256)
    os.replace(path, dest)  # renames a symlink itself, never its target
    reason = {**result.to_json(), "original_name": path.name, "filed_as": dest.name,
              "filed_at": datetime.now(UTC).isoformat()}
    tmp = dest.with_name(f".{dest.name}.reason.json.part")
    tmp.write_text(json.dumps(reason, indent=2, default=str))
    os.replace(tmp, dest.with_name(dest.name + ".reason.json"))
    return dest


def _readable(path: Path) -> bool:
    mode = path.lstat().st_mode
    return stat.S_ISREG(mode) and not stat.S_ISLNK(mode)


def _not_a_file(path: Path) -> IngestResult:
    return IngestResult(path=str(path), status="quarantined", reason="INGEST_NOT_A_FILE",
                        message="symlinks and special files are never read")


def process(engine: Engine, root: Path, path: Path, policy: BalancePolicy,
            move: bool = True) -> IngestResult:
    """Import one file; with ``move`` file it away under ``root``."""
    result = ingest_path(engine, path, policy) if _readable(path) else _not_a_file(path)
    if move:
        file_away(root, path, result)
    return result


def scan_once(engine: Engine, root: Path, policy: BalancePolicy, stable_seconds: float,
              on_result: Callable[[IngestResult], None] | None = None) -> list[IngestResult]:
    """Import every complete file now in ``root``; incomplete ones wait for the next scan.

    The files of one scan are imported in turn as one batch (``IngestBatch``: each file in its
    own transaction, parsed ahead by child processes when they are large enough), then filed.
    """
    ensure_layout(root)
    ready: list[tuple[Path, bool]] = []
    for path in candidates(root):
        try:
            if is_complete(path, stable_seconds):
                ready.append((path, _readable(path)))
        except FileNotFoundError:  # taken by another watcher in the meantime
            continue
    files = [path for path, readable in ready if readable]
    results = []
    with IngestBatch(engine, files, policy) as batch:
        pos = 0
        for path, readable in ready:
            try:
                if readable:
                    pos += 1
                    # looked at again: swapped for a symlink since the scan, it is not imported
                    result = batch.ingest(pos - 1) if _readable(path) else _not_a_file(path)
                else:
                    result = _not_a_file(path)
                file_away(root, path, result)
            except FileNotFoundError:  # taken by another watcher in the meantime
                continue
            results.append(result)
            if on_result:
                on_result(result)
    return results


@dataclass
class Watcher:
    engine: Engine
    root: Path
    policy: BalancePolicy
    stable_seconds: float = 2.0

    def run(self, stop: threading.Event | None = None,
            on_result: Callable[[IngestResult], None] | None = None) -> None:
        """Scan now, then on every change (and periodically, for files still settling)."""
        from watchfiles import watch

        ensure_layout(self.root)
        scan_once(self.engine, self.root, self.policy, self.stable_seconds, on_result)
        timeout_ms = max(200, int(self.stable_seconds * 1000 / 2))
        for _changes in watch(self.root, stop_event=stop, rust_timeout=timeout_ms,
                              yield_on_timeout=True, recursive=False):
            scan_once(self.engine, self.root, self.policy, self.stable_seconds, on_result)
