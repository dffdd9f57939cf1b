"""Classifier settings (`TOUCHPOINT_CLASSIFIER_*`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ClassifierSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_CLASSIFIER_", extra="ignore")

    group_id: str = "touchpoint-classifier"
    host: str = "127.0.0.1"
    port: int = Field(8082, ge=0, le=65535, description="health and metrics")
    max_batch: int = Field(2000, ge=1)
    batch_wait_ms: int = Field(200, ge=0)
    max_consecutive_invalid: int = Field(100, ge=1)
    retry_backoff_max_s: float = Field(10.0, gt=0)
    outbox_batch: int = Field(1000, ge=1)
    session_timeout_ms: int = Field(10_000, ge=1000)
    failpoints: str = Field("", description="test-only crash points, comma-separated (see failpoints.py)")
