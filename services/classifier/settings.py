"""Classifier settings (`TOUCHPOINT_CLASSIFIER_*`) and the company's rules it applies (`TOUCHPOINT_*`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.classifier.policy import BusinessHours, Policy
from services.runtime.company import CompanySettings


class ClassifierSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_CLASSIFIER_", extra="ignore")

    group_id: str = "touchpoint-classifier"
    host: str = "127.0.0.1"
    port: int = Field(8082, ge=0, le=65535, description="health and metrics")
    max_batch: int = Field(5000, ge=1)
    batch_wait_ms: int = Field(200, ge=0)
    max_consecutive_invalid: int = Field(100, ge=1)
    retry_backoff_max_s: float = Field(10.0, gt=0)
    outbox_batch: int = Field(1000, ge=1)
    outbox_retention_s: float = Field(7 * 24 * 3600, ge=0, description="relayed outbox rows are deleted after this")
    outbox_prune_batch: int = Field(5000, ge=1, description="rows deleted per statement when pruning")
    outbox_prune_every_s: float = Field(60.0, gt=0)
    session_timeout_ms: int = Field(10_000, ge=1000)
    failpoints: str = Field("", description="test-only crash points, comma-separated (see failpoints.py)")


class PolicySettings(CompanySettings):
    """The company's rules, on top of its facts (CompanySettings). Times are business time in `TOUCHPOINT_TIMEZONE`."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_", extra="ignore")

    business_hours: str = Field("mon-fri 09:00-18:00", description="a day or day range, then opening hours")
    callback_sla_minutes: int = Field(30, ge=0, description="business minutes to call back a missed call")
    reply_sla_minutes: int = Field(240, ge=0, description="business minutes to answer an inbound email")
    fill_data_sla_minutes: int = Field(60, ge=0, description="business minutes to fill in a new lead's data")
    spam_threshold: float = Field(0.7, gt=0, le=1, description="wrong-number/spam score that flags a call")
    short_call_s: int = Field(10, ge=1, description="an answered call shorter than this is 'short'")

    def policy(self) -> Policy:
        return Policy(
            own_numbers=frozenset(self.own_numbers),
            mail_domains=frozenset(self.mail_domains),
            hours=BusinessHours.parse(self.business_hours, self.timezone),
            callback_sla_minutes=self.callback_sla_minutes,
            reply_sla_minutes=self.reply_sla_minutes,
            fill_data_sla_minutes=self.fill_data_sla_minutes,
            spam_threshold=self.spam_threshold,
            short_call_s=self.short_call_s,
        )
