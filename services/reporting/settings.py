"""Reporting settings (`TOUCHPOINT_REPORTING_*`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReportingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_REPORTING_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8081, ge=0, le=65535)
    page_max: int = Field(500, ge=1)
