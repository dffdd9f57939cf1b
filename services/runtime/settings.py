"""Connection settings shared by all processes, read from the environment (pydantic-settings)."""

from __future__ import annotations

import ssl
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.topics import TopicNames

# `TOUCHPOINT_ENV`: `make run` (deploy/local) marks its processes `development`, which lets them accept the public
# secrets of deploy/dev.env and only warns about topics that differ from the catalogue. Anything else is production.
Environment = Literal["production", "development"]


class KafkaSettings(BaseSettings):
    """`KAFKA_*` variables. The security settings pass through to aiokafka for TLS and SASL/SCRAM clusters.
    Topic settings (`TOUCHPOINT_TOPIC_*`): unset replication follows the cluster's size (topic_settings.py)."""

    model_config = SettingsConfigDict(
        env_prefix="KAFKA_", extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    client_id_prefix: str = "touchpoint"
    request_timeout_ms: int = Field(15_000, ge=1_000)
    topic_namespace: str = Field("", alias="TOUCHPOINT_TOPIC_NAMESPACE", pattern=r"^[A-Za-z0-9._-]*$")
    topic_replication_factor: int | None = Field(None, alias="TOUCHPOINT_TOPIC_REPLICATION_FACTOR", ge=1)
    topic_min_insync_replicas: int | None = Field(None, alias="TOUCHPOINT_TOPIC_MIN_INSYNC_REPLICAS", ge=1)
    environment: Environment = Field("production", alias="TOUCHPOINT_ENV")

    @field_validator("topic_replication_factor", "topic_min_insync_replicas", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def topics(self) -> TopicNames:
        return TopicNames(self.topic_namespace)

    def client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
            "request_timeout_ms": self.request_timeout_ms,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            context = ssl.create_default_context(cafile=self.ssl_cafile)
            if self.ssl_certfile:
                context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
            kwargs["ssl_context"] = context
        if self.sasl_mechanism is not None:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password.get_secret_value() if self.sasl_password else None
        return kwargs


class DatabaseSettings(BaseSettings):
    """`DATABASE_URL` and pool sizes (`TOUCHPOINT_DB_POOL_MIN`/`_MAX`)."""

    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)  # the URL may hold a password

    database_url: str = Field("postgresql://postgres@127.0.0.1:5432/touchpoint", alias="DATABASE_URL")
    pool_min: int = Field(1, alias="TOUCHPOINT_DB_POOL_MIN", ge=0)
    pool_max: int = Field(10, alias="TOUCHPOINT_DB_POOL_MAX", ge=1)
    command_timeout_s: float = Field(30.0, alias="TOUCHPOINT_DB_COMMAND_TIMEOUT_S", gt=0)


class LogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_LOG_", extra="ignore")

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "console"] = "auto"
