"""One Settings object for the whole product (env prefix ``CASHRECON_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Defaults serve a laptop: a SQLite file under ``var/`` and inline jobs."""

    model_config = SettingsConfigDict(env_prefix="CASHRECON_", env_file=".env", extra="ignore")

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
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, description="Largest accepted file")
    stable_seconds: float = Field(
        default=2.0, description="Watch folder: a file must keep its size this long to be complete"
    )


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests build their own ``Settings`` instead)."""
    return Settings()
