"""Ingest's settings: listening ports, limits, company facts and per-source secrets (`TOUCHPOINT_*`)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.runtime.company import CompanySettings
from services.runtime.secrets import blank_is_unset, refuse_unusable_secrets
from services.runtime.settings import Environment

# The settings that hold a source's secret; each is TOUCHPOINT_<NAME> and checked by services/runtime/secrets.py.
SECRET_FIELDS = (
    "generic_secret",
    "twilio_auth_token",
    "mango_api_key",
    "mango_api_salt",
    "zadarma_api_secret",
    "freeswitch_password",
    "mailgun_signing_key",
    "postmark_password",
)


class IngestSettings(CompanySettings):
    """Company facts (own numbers, mail domains, region, time zone) come from CompanySettings."""

    # Errors must not echo what was given: a refused secret would be printed.
    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_", extra="ignore", hide_input_in_errors=True)

    environment: Environment = Field("production", alias="TOUCHPOINT_ENV")

    host: str = Field("127.0.0.1", alias="TOUCHPOINT_INGEST_HOST")
    port: int = Field(8080, alias="TOUCHPOINT_INGEST_PORT", ge=0, le=65535)
    public_base_url: str = "http://127.0.0.1:8080"
    max_body_bytes: int = Field(1_048_576, ge=1024)
    retry_after_s: int = Field(5, ge=1)
    send_timeout_s: float = Field(5.0, gt=0)
    max_in_flight: int = Field(1000, ge=1)
    signature_tolerance_s: int = Field(300, ge=1)

    generic_secret: SecretStr | None = None
    twilio_auth_token: SecretStr | None = None
    mango_api_key: SecretStr | None = None
    mango_api_salt: SecretStr | None = None
    zadarma_api_secret: SecretStr | None = None
    freeswitch_user: str | None = None
    freeswitch_password: SecretStr | None = None

    @field_validator(*SECRET_FIELDS, "freeswitch_user", "postmark_user", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return blank_is_unset(value)

    @model_validator(mode="after")
    def _secrets_usable(self) -> Self:
        refuse_unusable_secrets(
            {f"TOUCHPOINT_{name.upper()}": getattr(self, name) for name in SECRET_FIELDS},
            development=self.environment == "development",
        )
        return self

    # Email sources (docs/email.md). Mail from one of the company's domains (CompanySettings.mail_domains) to
    # outside is outbound; SMTP accepts only recipients in them. Subdomains count as ours.
    mailgun_signing_key: SecretStr | None = None
    postmark_user: str | None = None
    postmark_password: SecretStr | None = None
    email_max_body_bytes: int = Field(26_214_400, ge=1024, description="Mailgun/Postmark bodies, attachments included")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(2525, ge=0, le=65535)
    smtp_hostname: str = Field("localhost", description="the name our SMTP server greets with")
    smtp_max_bytes: int = Field(26_214_400, ge=1024)
    smtp_max_recipients: int = Field(100, ge=1)

    # Limits (docs/email.md and README, limits): a message larger than this is parsed on one of
    # `email_parse_threads` worker threads instead of the event loop.
    email_parse_threshold_bytes: int = Field(262_144, ge=0)
    email_parse_threads: int = Field(2, ge=1)
    # Replays (docs/sources.md): a Zadarma notification whose signed call_start is further than this from now
    # is refused (it covers the longest call, since NOTIFY_END carries the call's start).
    zadarma_call_start_window_s: int = Field(86_400, ge=60)
    # ... and a Twilio callback (its signed `Timestamp`) or a Mango notification (`timestamp`, a summary's
    # `end_time`, inside the signed json) whose event time is further than this from now.
    event_time_window_s: int = Field(86_400, ge=60)
    # Load limits of one process (README, limits): webhook requests in progress, SMTP sessions open, and body
    # bytes held (a request reserves its Content-Length, else its route's size limit; an SMTP DATA reserves
    # TOUCHPOINT_SMTP_MAX_BYTES). Past them: 503 + Retry-After, SMTP 421 (sessions) or 451 (bytes). A body not
    # received within body_read_timeout_s of the request's headers gets 408 and the connection is closed.
    max_concurrent_requests: int = Field(256, ge=1)
    max_smtp_sessions: int = Field(64, ge=1)
    max_bytes_in_flight: int = Field(268_435_456, ge=65_536)
    body_read_timeout_s: float = Field(30.0, gt=0)
    # Slow senders (README, limits): a connection that has not sent a whole request head within
    # header_read_timeout_s of connecting (or of its last answer, when kept alive) is closed; aiohttp's own
    # default would keep it an hour. An SMTP session is closed when no command is complete for
    # smtp_command_timeout_s (RFC 5321 asks servers to wait 5 minutes) or a DATA is not in by then, and is told
    # 421 (senders retry) after smtp_session_max_s in all, between transactions, so no sender keeps a session slot.
    header_read_timeout_s: float = Field(15.0, gt=0)
    smtp_command_timeout_s: float = Field(300.0, gt=0)
    smtp_session_max_s: float = Field(900.0, gt=0)
