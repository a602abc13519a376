"""A real asyncssh SFTP server on 127.0.0.1 (port 0), run in a thread with its own event loop."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from shared.config import SftpSettings

USER, PASSWORD = "bank", "s3cret-pass"


class _Auth(asyncssh.SSHServer):
    """Password or public-key auth for one user."""

    client_key: asyncssh.SSHKey | None = None

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == USER and password == PASSWORD

    def public_key_auth_supported(self) -> bool:
        return self.client_key is not None

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        assert self.client_key is not None
        return username == USER and key.public_data == self.client_key.public_data


@dataclass
class SftpServer:
    root: Path
    factory: type[asyncssh.SFTPServer] = asyncssh.SFTPServer
    host_key: asyncssh.SSHKey = field(
        default_factory=lambda: asyncssh.generate_private_key("ssh-ed25519"))
    client_key: asyncssh.SSHKey | None = None
    port: int = 0

    def __post_init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(20)

    def start(self) -> SftpServer:
        self.thread.start()
        root, factory = os.fsencode(self.root), self.factory
        auth = type("Auth", (_Auth,), {"client_key": self.client_key})

        async def listen() -> asyncssh.SSHAcceptor:
            return await asyncssh.listen(
                "127.0.0.1", 0, server_host_keys=[self.host_key], server_factory=auth,
                sftp_factory=lambda chan: factory(chan, chroot=root))

        self.acceptor = self._run(listen())
        self.port = self.acceptor.get_port()
        return self

    def stop(self) -> None:
        async def close() -> None:
            self.acceptor.close()
            await self.acceptor.wait_closed()

        self._run(close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def known_hosts_line(self, key: asyncssh.SSHKey | None = None) -> str:
        pub = (key or self.host_key).export_public_key().decode().strip()
        return f"[127.0.0.1]:{self.port} {pub}\n"


def old(path: Path, age: float = 3600) -> Path:
    """Back-date a file so it counts as complete."""
    past = time.time() - age
    os.utime(path, (past, past))
    return path


@pytest.fixture
def sftp_root(tmp_path: Path) -> Path:
    root = tmp_path / "server"
    (root / "drop").mkdir(parents=True)
    return root


@pytest.fixture
def make_server(sftp_root: Path) -> Iterator[Callable[..., SftpServer]]:
    started: list[SftpServer] = []

    def make(factory: type[asyncssh.SFTPServer] = asyncssh.SFTPServer,
             client_key: asyncssh.SSHKey | None = None) -> SftpServer:
        server = SftpServer(sftp_root, factory, client_key=client_key).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., SftpServer]) -> SftpServer:
    return make_server()


@pytest.fixture
def sftp_cfg(server: SftpServer, tmp_path: Path) -> SftpSettings:
    kh = tmp_path / "known_hosts"
    kh.write_text(server.known_hosts_line())
    return settings_for(server, kh)


def settings_for(server: SftpServer, known_hosts: Path, **over: Any) -> SftpSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1", "port": server.port, "user": USER, "password": PASSWORD,
        "known_hosts": known_hosts, "remote_dir": "drop", "stable_seconds": 5.0,
        "connect_timeout": 10.0, **over}
    return SftpSettings(**values)
