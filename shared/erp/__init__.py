"""ERP adapters (HTTP webhook, CSV file export).

Their settings are the ``erp`` group of the one ``shared.config.Settings``: ``CASHRECON_ERP_ADAPTER``
(http | file), ``CASHRECON_ERP_URL``, ``CASHRECON_ERP_SECRET``, ``CASHRECON_ERP_OUTBOX_DIR``, ...
"""

from __future__ import annotations

from shared.config import ErpSettings, Settings
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


def make_adapter(cfg: ErpSettings | None = None) -> ErpAdapter:
    """The adapter ``cfg`` (default: ``Settings().erp``) names; refuses an HTTP adapter without a real secret."""
    cfg = cfg if cfg is not None else Settings().erp
    kind = cfg.adapter or ("http" if cfg.url else "file")
    if kind == "file":
        from shared.erp.file import FileAdapter

        return FileAdapter(cfg.outbox_dir)
    if not cfg.url:
        raise ValidationError("CASHRECON_ERP_URL is required for the HTTP ERP adapter",
                              code="CONFIG_INVALID")
    if not cfg.secret or len(cfg.secret) < MIN_SECRET_LENGTH:
        raise ValidationError(f"CASHRECON_ERP_SECRET must be set, at least {MIN_SECRET_LENGTH} "
                              "characters", code="CONFIG_INVALID")
    from shared.erp.http import HttpAdapter

    return HttpAdapter(cfg.url, cfg.secret, timeout=cfg.timeout_seconds,
                       attempts=cfg.attempts, backoff=cfg.backoff_seconds)
