"""The one ``Settings`` object: it carries every group, and every documented variable reaches it."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from shared.config import ErpSettings, Settings, SftpSettings, env_names

REPO = Path(__file__).resolve().parents[2]

# Every CASHRECON_* variable: (value set in the environment, what the setting then holds).
SAMPLES: dict[str, tuple[str, Any]] = {
    "CASHRECON_DATABASE_URL": ("postgresql+psycopg://u@db/cash", "postgresql+psycopg://u@db/cash"),
    "CASHRECON_REDIS_URL": ("redis://redis:6379/1", "redis://redis:6379/1"),
    "CASHRECON_RULES_FILE": ("/etc/cashrecon/rules.toml", Path("/etc/cashrecon/rules.toml")),
    "CASHRECON_ON_BALANCE_BREAK": ("refuse", "refuse"),
    "CASHRECON_WATCH_DIR": ("/data/inbox", Path("/data/inbox")),
    "CASHRECON_STABLE_SECONDS": ("3.5", 3.5),
    "CASHRECON_PARSE_AHEAD_BYTES": ("0", 0),
    "CASHRECON_APPROVAL_THRESHOLD": ("2500.50", Decimal("2500.50")),
    "CASHRECON_WRITEOFF_LIMIT_CLERK": ("7.25", Decimal("7.25")),
    "CASHRECON_WRITEOFF_LIMIT_SUPERVISOR": ("750", Decimal("750")),
    "CASHRECON_MAX_PAGE_SIZE": ("33", 33),
    "CASHRECON_MAX_BODY_BYTES": ("4096", 4096),
    "CASHRECON_MAX_UPLOAD_BYTES": ("8192", 8192),
    "CASHRECON_HOST": ("0.0.0.0", "0.0.0.0"),
    "CASHRECON_PORT": ("9001", 9001),
    "CASHRECON_QUEUE_NAME": ("cash-q", "cash-q"),
    "CASHRECON_RELAY_BATCH": ("17", 17),
    "CASHRECON_RELAY_LEASE_SECONDS": ("45", 45),
    "CASHRECON_JOB_TIMEOUT_SECONDS": ("90", 90),
    "CASHRECON_ERP_ADAPTER": ("http", "http"),
    "CASHRECON_ERP_URL": ("https://erp.example/postings", "https://erp.example/postings"),
    "CASHRECON_ERP_SECRET": ("s" * 20, "s" * 20),
    "CASHRECON_ERP_OUTBOX_DIR": ("/data/erp-outbox", Path("/data/erp-outbox")),
    "CASHRECON_ERP_TIMEOUT_SECONDS": ("2.5", 2.5),
    "CASHRECON_ERP_ATTEMPTS": ("6", 6),
    "CASHRECON_ERP_BACKOFF_SECONDS": ("0.25", 0.25),
    "CASHRECON_SFTP_HOST": ("sftp.bank.example", "sftp.bank.example"),
    "CASHRECON_SFTP_PORT": ("2222", 2222),
    "CASHRECON_SFTP_USER": ("ar-team", "ar-team"),
    "CASHRECON_SFTP_PASSWORD": ("pw-123", "pw-123"),
    "CASHRECON_SFTP_KEY_FILE": ("/keys/id_ed25519", Path("/keys/id_ed25519")),
    "CASHRECON_SFTP_KNOWN_HOSTS": ("/keys/known_hosts", Path("/keys/known_hosts")),
    "CASHRECON_SFTP_INSECURE_SKIP_HOST_KEY_CHECK": ("true", True),
    "CASHRECON_SFTP_REMOTE_DIR": ("out/statements", "out/statements"),
    "CASHRECON_SFTP_DONE_DIR": ("done", "done"),
    "CASHRECON_SFTP_QUARANTINE_DIR": ("", ""),
    "CASHRECON_SFTP_STABLE_SECONDS": ("4", 4.0),
    "CASHRECON_SFTP_CONNECT_TIMEOUT": ("12", 12.0),
    "CASHRECON_SFTP_MAX_FILES": ("9", 9),
    "CASHRECON_SFTP_MAX_FILE_BYTES": ("1000", 1000),
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No CASHRECON_* variable from the caller's environment (and no .env file below)."""
    for name in list(os.environ):
        if name.startswith("CASHRECON_"):
            monkeypatch.delenv(name)
    return monkeypatch


def read(settings: Settings, path: str) -> Any:
    group, _, name = path.rpartition(".")
    value = getattr(getattr(settings, group) if group else settings, name)
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def documented() -> set[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("## Configuration\n")
    section = text[start:text.index("\n## ", start + 1)]
    return set(re.findall(r"`(CASHRECON_[A-Z0-9_]+)", section))


def test_the_readme_documents_exactly_the_variables_settings_reads() -> None:
    assert documented() == set(env_names())
    assert set(SAMPLES) == set(env_names())  # a new setting needs a sample here too


def test_one_object_carries_every_group(clean_env: pytest.MonkeyPatch) -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert isinstance(s.erp, ErpSettings) and isinstance(s.sftp, SftpSettings)
    # core, API, worker, ERP and SFTP settings, all on the one object
    assert (s.database_url, s.max_page_size, s.queue_name, s.erp.outbox_dir, s.sftp.host) == (
        "sqlite:///var/cashrecon.db", 200, "cashrecon", Path("var/erp-outbox"), None)
    for name, value in SAMPLES.items():
        clean_env.setenv(name, value[0])
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    for name, path in env_names().items():
        assert read(s, path) == SAMPLES[name][1], name


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_variable_reaches_its_own_setting_only(clean_env: pytest.MonkeyPatch, name: str) -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    raw, expected = SAMPLES[name]
    clean_env.setenv(name, raw)
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    path = env_names()[name]
    assert read(s, path) == expected
    changed = {p for p in env_names().values() if read(s, p) != read(defaults, p)}
    assert changed == {path}


def test_the_groups_never_read_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CASHRECON_SFTP_HOST", "sftp.bank.example")
    clean_env.setenv("CASHRECON_ERP_URL", "https://erp.example/postings")
    assert SftpSettings().host is None and ErpSettings().url is None
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (s.sftp.host, s.erp.url) == ("sftp.bank.example", "https://erp.example/postings")


def test_a_given_group_wins_over_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CASHRECON_SFTP_HOST", "from-env")
    s = Settings(_env_file=None, sftp=SftpSettings(host="given"))  # type: ignore[call-arg]
    assert s.sftp.host == "given"


def test_the_old_names_are_the_one_objects_groups() -> None:
    from services.cashapp.usecases import sftp
    from shared import erp

    assert erp.ErpSettings is ErpSettings and sftp.SftpSettings is SftpSettings


def test_only_shared_config_reads_settings_from_the_environment() -> None:
    readers = sorted(str(p.relative_to(REPO)) for top in ("services", "shared")
                     for p in (REPO / top).rglob("*.py")
                     if "pydantic_settings" in p.read_text(encoding="utf-8"))
    assert readers == ["shared/config.py"]
