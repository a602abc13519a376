"""Settings of the REST service (env prefix ``CASHRECON_``), beside the product-wide ``Settings``.

Kept apart from ``shared/config.py`` so the service's knobs (limits, approval thresholds) live
with the service. Amount thresholds are decimal major units, converted with each receipt's
currency exponent where they are used.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Limits and maker-checker thresholds; the defaults suit a small AR team."""

    model_config = SettingsConfigDict(env_prefix="CASHRECON_", env_file=".env", extra="ignore")

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
