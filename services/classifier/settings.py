"""Classifier settings (`TOUCHPOINT_CLASSIFIER_*`) and the company's rules it applies (`TOUCHPOINT_*`)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.classifier.key_ids import Ids
from services.classifier.policy import BusinessHours, Policy
from services.runtime.company import CompanySettings
from services.runtime.secrets import SecretRefused, blank_is_unset, refuse_unusable_secrets
from services.runtime.settings import Environment


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
    statistics_every_s: float = Field(
        5.0, ge=0, description="how often young tables are checked for an ANALYZE (refresh_statistics.py); 0: never"
    )
    figures: bool = Field(True, description="keep the report figures in each batch (off only to measure their cost)")
    failpoints: str = Field("", description="test-only crash points, comma-separated (see failpoints.py)")


class PolicySettings(CompanySettings):
    """The company's rules, on top of its facts (CompanySettings). Times are business time in `TOUCHPOINT_TIMEZONE`."""

    # Errors must not echo what was given: a refused key would be printed.
    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_", extra="ignore", hide_input_in_errors=True)

    environment: Environment = Field("production", alias="TOUCHPOINT_ENV")
    id_key: SecretStr | None = Field(
        None, description="secret of the contact and task ids (key_ids.py); required, set once per installation"
    )
    business_hours: str = Field("mon-fri 09:00-18:00", description="a day or day range, then opening hours")
    callback_sla_minutes: int = Field(30, ge=0, description="business minutes to call back a missed call")
    reply_sla_minutes: int = Field(240, ge=0, description="business minutes to answer an inbound email")
    fill_data_sla_minutes: int = Field(60, ge=0, description="business minutes to fill in a new lead's data")
    spam_threshold: float = Field(0.7, gt=0, le=1, description="wrong-number/spam score that flags a call")
    short_call_s: int = Field(10, ge=1, description="an answered call shorter than this is 'short'")

    @field_validator("id_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return blank_is_unset(value)

    @model_validator(mode="after")
    def _id_key_usable(self) -> Self:
        if self.id_key is None:
            raise SecretRefused("TOUCHPOINT_ID_KEY is not set: contact and task ids need a secret of their own")
        refuse_unusable_secrets({"TOUCHPOINT_ID_KEY": self.id_key}, development=self.environment == "development")
        return self

    def policy(self) -> Policy:
        assert self.id_key is not None, "checked by _id_key_usable"
        return Policy(
            own_numbers=frozenset(self.own_numbers),
            mail_domains=frozenset(self.mail_domains),
            hours=BusinessHours.parse(self.business_hours, self.timezone),
            callback_sla_minutes=self.callback_sla_minutes,
            reply_sla_minutes=self.reply_sla_minutes,
            fill_data_sla_minutes=self.fill_data_sla_minutes,
            spam_threshold=self.spam_threshold,
            short_call_s=self.short_call_s,
            ids=Ids(self.id_key.get_secret_value().encode()),
        )
