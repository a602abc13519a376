"""The one settings object of the product: ``Settings``, read from ``CASHRECON_*`` variables.

This is the only place that reads the environment (and a ``.env`` file). The env name of a
setting is its path joined by ``_`` under the prefix: a top-level field ``database_url`` is
``CASHRECON_DATABASE_URL``; the ``erp`` and ``sftp`` groups are ``CASHRECON_ERP_<FIELD>`` and
``CASHRECON_SFTP_<FIELD>`` (``settings.erp.url`` is ``CASHRECON_ERP_URL``,
``settings.sftp.known_hosts`` is ``CASHRECON_SFTP_KNOWN_HOSTS``). The groups are plain models:
they never read the environment themselves, so tests build them with exactly the values given.

Defaults serve a laptop: a SQLite file under ``var/``, inline jobs, a CSV ERP export and no
SFTP polling. API amount thresholds are decimal major units, converted with each receipt's
currency exponent where they are used.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "CASHRECON_"


class ErpSettings(BaseModel):
    """Where postings go (``CASHRECON_ERP_*``). Unset adapter: HTTP when a URL is set, else the file export."""

    adapter: Literal["http", "file"] | None = Field(default=None, description="http | file")
    url: str | None = Field(default=None, description="ERP webhook URL (HTTP adapter)")
    secret: str | None = Field(default=None, description="Shared HMAC secret (HTTP adapter)")
    outbox_dir: Path = Field(default=Path("var/erp-outbox"), description="CSV export folder")
    timeout_seconds: float = Field(default=10.0)
    attempts: int = Field(default=4, description="HTTP tries within one relay call")
    backoff_seconds: float = Field(default=0.5, description="First pause between HTTP tries")


class SftpSettings(BaseModel):
    """SFTP inbox (``CASHRECON_SFTP_*``); no host = SFTP polling is off."""

    host: str | None = Field(default=None, description="SFTP server; unset = no SFTP polling")
    port: int = Field(default=22, ge=1, le=65535)
    user: str | None = Field(default=None, description="Login name")
    password: SecretStr | None = Field(default=None, description="Password (or use key_file)")
    key_file: Path | None = Field(default=None, description="Private key file for key auth")
    known_hosts: Path | None = Field(
        default=None, description="known_hosts file; unset = ~/.ssh/known_hosts")
    insecure_skip_host_key_check: bool = Field(
        default=False, description="INSECURE: accept any server host key (test setups only)")
    remote_dir: str = Field(default=".", description="Remote folder the bank drops files into")
    done_dir: str | None = Field(
        default=None, description="Remote folder for imported files; unset = delete them")
    quarantine_dir: str = Field(
        default="quarantine",
        description="Folder under remote_dir for refused files; empty = leave them and remember")
    stable_seconds: float = Field(default=10.0, ge=0, description="A file must be this old")
    connect_timeout: float = Field(default=30.0, gt=0)
    max_files: int = Field(default=200, ge=1, description="Files fetched per poll")
    max_file_bytes: int = Field(default=200 * 1024 * 1024, ge=1, description="Larger files wait")


class Settings(BaseSettings):
    """Every setting of the product: core, API, worker, and the ``erp`` and ``sftp`` groups."""

    # ``_`` splits a group's variable once: CASHRECON_SFTP_KNOWN_HOSTS -> sftp.known_hosts. Only
    # the group fields (models) are split; scalar fields keep their whole name.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore",
                                      env_nested_delimiter="_", env_nested_max_split=1)

    # --- core ---------------------------------------------------------------------------------
    database_url: str = Field(
        default="sqlite:///var/cashrecon.db",
        description="SQLAlchemy URL; sqlite:///path or postgresql+psycopg://user@host/db",
    )
    redis_url: str | None = Field(default=None, description="arq/Redis URL; unset = run jobs inline")
    rules_file: Path | None = Field(
        default=None, description="Rule-set TOML; unset = the shipped default rules"
    )
    on_balance_break: Literal["hold", "refuse"] | None = Field(
        default=None,
        description="Override the rule set's [ingest] on_balance_break (hold | refuse)",
    )
    watch_dir: Path = Field(default=Path("var/inbox"), description="Watch-folder root")
    stable_seconds: float = Field(
        default=2.0, description="Watch folder: a file must keep its size this long to be complete"
    )
    parse_ahead_bytes: int = Field(
        default=1_000_000, ge=0,
        description="Files at least this large are parsed in a second process while the first "
                    "writes (0 = never)",
    )

    # --- REST API: limits and maker-checker thresholds (the defaults suit a small AR team) ----
    approval_threshold: Decimal = Field(
        default=Decimal("10000"), ge=0,
        description="Manual applications above this total wait for a supervisor's approval")
    writeoff_limit_clerk: Decimal = Field(
        default=Decimal("50"), ge=0, description="A clerk's own write-off limit (above: approval)")
    writeoff_limit_supervisor: Decimal = Field(
        default=Decimal("1000"), ge=0, description="A supervisor's own write-off limit")
    max_page_size: int = Field(default=200, ge=1, le=10000, description="Largest page of a list")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="Largest JSON body")
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1024,
                                  description="Largest uploaded bank file")
    host: str = Field(default="127.0.0.1", description="cashrecon serve: listen address")
    port: int = Field(default=8000, description="cashrecon serve: listen port")

    # --- worker (arq) -------------------------------------------------------------------------
    queue_name: str = Field(default="cashrecon", description="arq queue of the jobs")
    relay_batch: int = Field(default=100, description="Outbox rows claimed per relay run")
    relay_lease_seconds: int = Field(default=60, description="Lease on claimed outbox rows")
    job_timeout_seconds: int = Field(default=600, description="arq job timeout")

    # --- groups -------------------------------------------------------------------------------
    erp: ErpSettings = Field(default_factory=ErpSettings, description="CASHRECON_ERP_*")
    sftp: SftpSettings = Field(default_factory=SftpSettings, description="CASHRECON_SFTP_*")


GROUPS: dict[str, type[BaseModel]] = {"erp": ErpSettings, "sftp": SftpSettings}


def env_names() -> dict[str, str]:
    """Every ``CASHRECON_*`` variable ``Settings`` reads, mapped to its path (``erp.url``)."""
    out: dict[str, str] = {}
    for name in Settings.model_fields:
        group = GROUPS.get(name)
        paths = [f"{name}.{sub}" for sub in group.model_fields] if group else [name]
        out.update({ENV_PREFIX + path.replace(".", "_").upper(): path for path in paths})
    return out


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once (tests and CLI commands build ``Settings()`` instead)."""
    return Settings()
