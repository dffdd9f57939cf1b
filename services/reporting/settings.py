"""Reporting settings (`TOUCHPOINT_REPORTING_*`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReportingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_REPORTING_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8081, ge=0, le=65535)
    page_max: int = Field(500, ge=1)
    # The URL people open; when it is https (TLS at a proxy in front), session cookies are marked Secure.
    public_url: str = ""
    session_hours: float = Field(12.0, gt=0)
    login_failures_per_email: int = Field(5, ge=1)
    login_failures_per_client: int = Field(30, ge=1)
    login_window_minutes: float = Field(15.0, gt=0)
    # In-flight action sends; past it a confirmation answers 503 + Retry-After instead of queueing in memory.
    max_in_flight: int = Field(200, ge=1)
    send_timeout_s: float = Field(5.0, gt=0)
    # Live queue updates (server-sent events): how often a stream looks for changes, and how long one stream lives
    # before the browser reconnects (EventSource does so by itself), so no connection is held forever.
    live_interval_s: float = Field(2.0, gt=0)
    live_stream_s: float = Field(60.0, gt=0)
    # Dashboards: how often the one watcher per process looks for changes the classifier did not NOTIFY (the
    # 2 s promise from ingest to screen leaves it half a second), and when an alert is raised.
    live_poll_s: float = Field(0.5, gt=0)
    alert_backlog_min: int = Field(5, ge=1)
    alert_completeness_below: float = Field(0.6, ge=0, le=1)
    # Browser libraries installed from npm by `make venv` (chart.js); empty: node_modules of the checkout.
    assets_dir: str = ""

    @property
    def behind_tls(self) -> bool:
        return self.public_url.lower().startswith("https://")
