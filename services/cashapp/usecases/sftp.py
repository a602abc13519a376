"""SFTP inbox: fetch complete bank files from a remote folder, import them, then clear them remotely.

One poll (``poll_once`` / ``poll_async``; the worker's ``sftp_poll_job``; ``cashrecon sftp poll``):

1. Connect with asyncssh. The server's host key is always checked against ``known_hosts``
   (``CASHRECON_SFTP_KNOWN_HOSTS``, else ``~/.ssh/known_hosts``; a missing file trusts nothing).
   ``CASHRECON_SFTP_INSECURE_SKIP_HOST_KEY_CHECK=true`` turns the check off: INSECURE, anyone on
   the path can then read the bank files and feed forged ones; for throw-away test setups only.
2. List ``REMOTE_DIR``. Only regular files count (no symlinks, folders or devices); hidden names
   and ``.part``/``.tmp``-style names are a writer's work in progress. A file is complete when its
   mtime is ``STABLE_SECONDS`` old (a writer still appending keeps touching it; a file renamed in
   whole keeps its old mtime, so it is taken at once). The mtime is the server's clock: a server
   clock running behind can make a growing file look settled, so the size and mtime are checked
   again after the download and a file that changed meanwhile is dropped and left for later.
3. Download to ``<inbox>/.sftp-<pid>-<random>-<name>.part`` (hidden: the watch folder ignores it), fsync,
   then ``os.replace`` it into the inbox under ``safe_name(name)`` (a new ``-N`` suffix when that
   name is taken). A name holding ``/`` or NUL is a lie from the server and is never touched,
   remotely or locally; every other name goes through ``safe_name`` and cannot leave the inbox.
4. Import it right away with ``inbox.process`` (files it into archive/duplicates/quarantine).
5. Only then act remotely:

   - imported or duplicate: delete the remote file, or move it to ``DONE_DIR`` when set;
   - quarantined: move it to ``<REMOTE_DIR>/<QUARANTINE_DIR>`` (default ``quarantine``, created
     when missing) so the bank's file is neither lost nor fetched again forever. With
     ``QUARANTINE_DIR`` empty, or when that move fails, the file stays where it is and its name,
     size and mtime are remembered (``<inbox>/.sftp-quarantined.json``) so it is not fetched
     again until it changes.

Exactly once rests on the import's sha256 idempotency, not on the poll: a crash during the
download leaves a hidden ``.part`` (removed by a later poll once stale); a crash after the file
reached the inbox leaves it to the watch folder; a crash (or a failed delete) after the import
means the next poll fetches the same bytes again, they import as ``duplicate`` and are cleared.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import posixpath
import stat
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import asyncssh
from sqlalchemy import Engine

from services.cashapp.usecases.inbox import ensure_layout, process, safe_name
from services.cashapp.usecases.ingest import BalancePolicy, IngestResult
from shared.config import Settings, SftpSettings
from shared.errors import DomainError

log = logging.getLogger(__name__)

_IGNORED_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".filepart", ".lock")
_PART_STALE_SECONDS = 3600.0  # a live download rewrites its .part far more often than this
_MEMORY_FILE = ".sftp-quarantined.json"
_MEMORY_MAX = 2000
_CHUNK = 1 << 18


@dataclass(slots=True)
class SftpResult:
    """What one poll did with one remote file."""

    remote_name: str
    status: Literal["imported", "duplicate", "quarantined", "skipped"]
    remote_action: Literal["deleted", "moved", "kept", "failed"]
    remote_path: str | None = None  # where the remote file is now (None: deleted)
    local_name: str | None = None
    reason: str | None = None
    message: str | None = None
    ingest: IngestResult | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``cashrecon sftp poll --json`` contract (one object per file)."""
        return {"remote_name": self.remote_name, "status": self.status,
                "remote_action": self.remote_action, "remote_path": self.remote_path,
                "local_name": self.local_name, "reason": self.reason, "message": self.message,
                "ingest": self.ingest.to_json() if self.ingest else None}


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    size: int
    mtime: int


class _QuarantineMemory:
    """Remote files left in place after a refusal, by name + size + mtime (they may change)."""

    def __init__(self, inbox: Path, prefix: str) -> None:
        self.path, self.prefix = inbox / _MEMORY_FILE, prefix
        try:
            self.data: dict[str, str] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def _key(self, e: _Entry) -> str:
        return f"{self.prefix}/{e.name}|{e.size}|{e.mtime}"

    def __contains__(self, e: _Entry) -> bool:
        return self._key(e) in self.data

    def remember(self, e: _Entry, sha: str | None) -> None:
        self.data[self._key(e)] = sha or ""
        keep = dict(list(self.data.items())[-_MEMORY_MAX:])
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(keep, indent=1))
        os.replace(tmp, self.path)


def unsafe_remote_name(name: str) -> bool:
    """True for names no honest directory listing holds (they would address another path)."""
    return "/" in name or "\x00" in name or name in ("", ".", "..")


def is_candidate(name: str) -> bool:
    """Hidden and in-progress names are a writer's business, not ours."""
    return not name.startswith(".") and not name.lower().endswith(_IGNORED_SUFFIXES)


def _is_regular(attrs: asyncssh.SFTPAttrs) -> bool:
    if attrs.type == asyncssh.FILEXFER_TYPE_UNKNOWN and attrs.permissions is not None:
        return stat.S_ISREG(attrs.permissions)
    return attrs.type == asyncssh.FILEXFER_TYPE_REGULAR


def _known_hosts(cfg: SftpSettings) -> Any:
    if cfg.insecure_skip_host_key_check:
        log.warning("SFTP host key check is OFF (CASHRECON_SFTP_INSECURE_SKIP_HOST_KEY_CHECK)")
        return None
    return str(cfg.known_hosts) if cfg.known_hosts else ()  # () = ~/.ssh/known_hosts


async def _connect(cfg: SftpSettings) -> asyncssh.SSHClientConnection:
    if not cfg.host:
        raise DomainError("CASHRECON_SFTP_HOST is not set", code="CONFIG_INVALID")
    try:
        return await asyncssh.connect(
            cfg.host, cfg.port, username=cfg.user or (),  # () = the local login name
            known_hosts=_known_hosts(cfg),
            password=cfg.password.get_secret_value() if cfg.password else None,
            client_keys=[str(cfg.key_file)] if cfg.key_file else None, agent_path=None,
            connect_timeout=cfg.connect_timeout, config=None)
    except asyncssh.HostKeyNotVerifiable as exc:
        raise DomainError(f"host key of {cfg.host} not trusted: {exc}",
                          code="SFTP_HOST_KEY_REJECTED") from exc
    except asyncssh.PermissionDenied as exc:
        raise DomainError(f"login to {cfg.host} refused: {exc}", code="SFTP_AUTH_FAILED") from exc
    except (TimeoutError, OSError, asyncssh.Error) as exc:
        raise DomainError(f"cannot reach {cfg.host}:{cfg.port}: {exc}",
                          code="SFTP_CONNECT_FAILED") from exc


async def _complete_entries(sftp: asyncssh.SFTPClient, cfg: SftpSettings, now: float,
                            memory: _QuarantineMemory) -> tuple[list[_Entry], list[SftpResult]]:
    """Complete remote files, oldest first, and results for names refused outright."""
    entries, refused = [], []
    async for item in sftp.scandir(cfg.remote_dir):
        name = str(item.filename)
        if name in (".", ".."):
            continue
        if unsafe_remote_name(name):
            log.warning("SFTP server listed an unsafe name %r; ignored", name)
            refused.append(SftpResult(remote_name=name, status="skipped", remote_action="kept",
                                      reason="SFTP_UNSAFE_NAME",
                                      message="a listed name holds '/' or NUL; never touched"))
            continue
        attrs = item.attrs
        if not is_candidate(name) or not _is_regular(attrs) or attrs.size is None:
            continue
        entry = _Entry(name, attrs.size, attrs.mtime or 0)
        if now - entry.mtime < cfg.stable_seconds or entry in memory:
            continue  # still being written (or a server clock ahead of ours: wait)
        entries.append(entry)
    entries.sort(key=lambda e: (e.mtime, e.name))
    return entries, refused


def _clean_stale_parts(inbox: Path, now: float) -> None:
    for part in inbox.glob(".sftp-*.part"):
        try:
            if now - part.lstat().st_mtime > _PART_STALE_SECONDS:
                part.unlink()
        except FileNotFoundError:
            pass


async def _download(sftp: asyncssh.SFTPClient, remote: str, part: Path) -> int:
    """Copy ``remote`` into ``part`` and fsync it; returns the byte count."""
    n = 0
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as out:
        async with sftp.open(remote, "rb") as src:
            while chunk := await src.read(_CHUNK):
                out.write(cast(bytes, chunk))  # binary mode: always bytes
                n += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return n


def _publish(part: Path, inbox: Path, name: str) -> Path:
    """Move the finished download into the inbox under a safe name that is not taken."""
    base = safe_name(name)
    stem, dot, ext = base.rpartition(".")
    target, n = inbox / base, 1
    while target.exists() or target.is_symlink():
        target = inbox / (f"{stem}-{n}.{ext}" if dot and stem else f"{base}-{n}")
        n += 1
    if target.parent.resolve() != inbox.resolve():  # belt and braces
        raise DomainError("download target escapes the inbox", code="INBOX_UNSAFE_LAYOUT")
    os.replace(part, target)
    dir_fd = os.open(inbox, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)
    return target


async def _fetch(sftp: asyncssh.SFTPClient, cfg: SftpSettings, inbox: Path,
                 entry: _Entry) -> Path | SftpResult:
    """Download one complete file into the inbox, or say why it was left alone."""
    remote = posixpath.join(cfg.remote_dir, entry.name)

    def skipped(reason: str, message: str) -> SftpResult:
        return SftpResult(remote_name=entry.name, status="skipped", remote_action="kept",
                          remote_path=remote, reason=reason, message=message)

    if entry.size > cfg.max_file_bytes:
        return skipped("SFTP_TOO_LARGE", f"{entry.size} bytes > {cfg.max_file_bytes}")
    # Unique per download: two polls (a CLI run and the cron, or two cron ticks) never share one.
    part = inbox / f".sftp-{os.getpid()}-{uuid.uuid4().hex[:8]}-{safe_name(entry.name)}.part"
    try:
        got = await _download(sftp, remote, part)
        after = await sftp.lstat(remote)
        if (got, after.size, after.mtime or 0) != (entry.size, entry.size, entry.mtime):
            part.unlink(missing_ok=True)
            return skipped("SFTP_FILE_CHANGED", "the file changed while it was fetched")
        return _publish(part, inbox, entry.name)
    except asyncssh.SFTPError as exc:  # gone (another poller took it) or unreadable
        part.unlink(missing_ok=True)
        return skipped("SFTP_READ_FAILED", f"{type(exc).__name__}: {exc}")
    except BaseException:
        part.unlink(missing_ok=True)
        raise


async def _move_remote(sftp: asyncssh.SFTPClient, remote: str, folder: str, name: str,
                       sha: str | None) -> str:
    """Move ``remote`` into ``folder`` without overwriting anything; returns the new path."""
    await sftp.makedirs(folder, exist_ok=True)
    for target in (posixpath.join(folder, name),
                   posixpath.join(folder, f"{(sha or 'nohash')[:12]}-{name}")):
        if not await sftp.exists(target):
            await sftp.rename(remote, target)
            return target
    # Both names taken: the same bytes were moved there before; this copy adds nothing.
    await sftp.remove(remote)
    return posixpath.join(folder, f"{(sha or 'nohash')[:12]}-{name}")


async def _settle_remote(sftp: asyncssh.SFTPClient, cfg: SftpSettings, entry: _Entry,
                         ingest: IngestResult, memory: _QuarantineMemory) -> SftpResult:
    """Clear the remote file according to the import's outcome (see the module docstring)."""
    remote = posixpath.join(cfg.remote_dir, entry.name)
    out = SftpResult(remote_name=entry.name, status=ingest.status, remote_action="kept",
                     remote_path=remote, reason=ingest.reason, message=ingest.message,
                     ingest=ingest)
    try:
        if ingest.status == "quarantined" and not cfg.quarantine_dir:
            memory.remember(entry, ingest.sha256)
        elif ingest.status == "quarantined":
            folder = posixpath.join(cfg.remote_dir, cfg.quarantine_dir)
            out.remote_path = await _move_remote(sftp, remote, folder, entry.name, ingest.sha256)
            out.remote_action = "moved"
        elif cfg.done_dir:
            out.remote_path = await _move_remote(sftp, remote, cfg.done_dir, entry.name,
                                                 ingest.sha256)
            out.remote_action = "moved"
        else:
            await sftp.remove(remote)
            out.remote_action, out.remote_path = "deleted", None
    except asyncssh.SFTPNoSuchFile:
        out.remote_action, out.remote_path = "deleted", None  # another poller cleared it
    except (asyncssh.Error, OSError) as exc:
        # Safe to leave: the next poll fetches it again and it imports as a duplicate.
        log.warning("SFTP: could not clear %s after %s: %s", remote, ingest.status, exc)
        out.remote_action, out.message = "failed", f"remote clean-up failed: {exc}"
        if ingest.status == "quarantined":
            memory.remember(entry, ingest.sha256)
    return out


async def poll_async(engine: Engine, cfg: SftpSettings, inbox_root: Path, policy: BalancePolicy,
                     *, now: float | None = None) -> list[SftpResult]:
    """One poll: fetch every complete remote file, import it, then clear it remotely."""
    ensure_layout(inbox_root)
    now = time.time() if now is None else now
    _clean_stale_parts(inbox_root, now)
    memory = _QuarantineMemory(inbox_root, f"{cfg.host}:{cfg.port}:{cfg.remote_dir}")
    conn = await _connect(cfg)
    async with conn, conn.start_sftp_client() as sftp:
        try:
            entries, results = await _complete_entries(sftp, cfg, now, memory)
        except asyncssh.SFTPError as exc:
            raise DomainError(f"cannot list {cfg.remote_dir!r}: {exc}",
                              code="SFTP_LIST_FAILED") from exc
        for entry in entries[: cfg.max_files]:
            fetched = await _fetch(sftp, cfg, inbox_root, entry)
            if isinstance(fetched, SftpResult):
                results.append(fetched)
                continue
            # Synchronous database work: off the event loop (the worker runs other jobs).
            ingest = await asyncio.to_thread(process, engine, inbox_root, fetched, policy)
            result = await _settle_remote(sftp, cfg, entry, ingest, memory)
            result.local_name = fetched.name
            results.append(result)
    return results


def poll_once(engine: Engine, cfg: SftpSettings, inbox_root: Path,
              policy: BalancePolicy) -> list[SftpResult]:
    """``poll_async`` for synchronous callers (the CLI, tests); not inside a running loop."""
    return asyncio.run(poll_async(engine, cfg, inbox_root, policy))


async def sftp_poll_job(ctx: dict[str, Any]) -> dict[str, Any]:
    """arq job: one poll (a no-op when no SFTP host is configured); new imports queue matching."""
    settings: Settings = ctx["settings"]
    cfg = settings.sftp
    if not cfg.host:
        return {"configured": False, "files": 0, "imported": 0}
    from services.cashapp.ruleset import balance_policy
    from services.cashapp.worker import _chain, _today

    engine = ctx["engine"]
    policy = await asyncio.to_thread(balance_policy, settings, engine)
    results = await poll_async(engine, cfg, Path(settings.watch_dir), policy)  # type: ignore[arg-type]
    imported = sorted(r.ingest.sha256 for r in results
                      if r.ingest and r.status == "imported" and r.ingest.sha256)
    if imported:
        tag = hashlib.sha256(",".join(imported).encode()).hexdigest()[:16]
        await _chain(ctx, "match_job", _today().isoformat(), job_id=f"match:{tag}")
    return {"configured": True, "files": len(results), "imported": len(imported),
            "quarantined": sum(r.status == "quarantined" for r in results),
            "remote_failed": sum(r.remote_action == "failed" for r in results)}
