"""ERP adapters (HTTP webhook, CSV file export) and their settings.

Settings use the product's env prefix: ``CASHRECON_ERP_ADAPTER`` (http | file | none),
``CASHRECON_ERP_URL``, ``CASHRECON_ERP_SECRET``, ``CASHRECON_ERP_OUTBOX_DIR``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.erp.base import (
    Ack,
    BatchErpAdapter,
    ErpAdapter,
    ErpError,
    PermanentError,
    Posting,
    TransientError,
)
from shared.errors import ValidationError

__all__ = ["Ack", "BatchErpAdapter", "ErpAdapter", "ErpError", "ErpSettings", "PermanentError",
           "Posting", "TransientError", "make_adapter"]

MIN_SECRET_LENGTH = 16


class ErpSettings(BaseSettings):
    """Where postings go. Unset adapter: HTTP when a URL is set, else the file export."""

    model_config = SettingsConfigDict(env_prefix="CASHRECON_", env_file=".env", extra="ignore")

    erp_adapter: Literal["http", "file"] | None = Field(default=None)
    erp_url: str | None = Field(default=None, description="ERP webhook URL (HTTP adapter)")
    erp_secret: str | None = Field(default=None, description="Shared HMAC secret (HTTP adapter)")
    erp_outbox_dir: Path = Field(default=Path("var/erp-outbox"), description="CSV export folder")
    erp_timeout_seconds: float = Field(default=10.0)
    erp_attempts: int = Field(default=4, description="HTTP tries within one relay call")
    erp_backoff_seconds: float = Field(default=0.5, description="First pause between HTTP tries")


def make_adapter(cfg: ErpSettings | None = None) -> ErpAdapter:
    """The configured adapter; refuses an HTTP adapter without a real secret."""
    cfg = cfg or ErpSettings()
    kind = cfg.erp_adapter or ("http" if cfg.erp_url else "file")
    if kind == "file":
        from shared.erp.file import FileAdapter

        return FileAdapter(cfg.erp_outbox_dir)
    if not cfg.erp_url:
        raise ValidationError("CASHRECON_ERP_URL is required for the HTTP ERP adapter",
                              code="CONFIG_INVALID")
    if not cfg.erp_secret or len(cfg.erp_secret) < MIN_SECRET_LENGTH:
        raise ValidationError(f"CASHRECON_ERP_SECRET must be set, at least {MIN_SECRET_LENGTH} "
                              "characters", code="CONFIG_INVALID")
    from shared.erp.http import HttpAdapter

    return HttpAdapter(cfg.erp_url, cfg.erp_secret, timeout=cfg.erp_timeout_seconds,
                       attempts=cfg.erp_attempts, backoff=cfg.erp_backoff_seconds)
