"""Builders for the call-source integration tests: an in-process ingest app on a real producer, and
requests signed the way each provider signs them (with the provider's SDK where one exists)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from services.ingest.app import IngestDeps, build_app
from services.ingest.calls.mango import mango_sign
from services.ingest.calls.zadarma import SIGNED_FIELDS
from services.ingest.metrics import IngestMetrics
from services.ingest.publish import EventPublisher
from services.ingest.settings import IngestSettings
from services.runtime.health import CachedReadiness
from services.runtime.kafka import DurableProducer, ProducerLimits, kafka_reachable
from services.runtime.settings import KafkaSettings

Client = TestClient[web.Request, web.Application]

PUBLIC_BASE_URL = "https://ingest.example.com"  # as behind a proxy: Twilio signs the URL it called, not ours
TWILIO_TOKEN = "test-twilio-auth-token"
MANGO_KEY, MANGO_SALT = "test-mango-api-key", "test-mango-api-salt"
ZADARMA_SECRET = "test-zadarma-secret"
FS_USER, FS_PASSWORD = "freeswitch", "test-freeswitch-password"
OWN_NUMBERS = ("+14155550100", "+74951234567")


def call_settings(**overrides: Any) -> IngestSettings:
    values: dict[str, Any] = {
        "public_base_url": PUBLIC_BASE_URL,
        "max_body_bytes": 16384,
        "default_region": "US",
        "timezone": "Europe/Moscow",
        "own_numbers": OWN_NUMBERS,
        "twilio_auth_token": SecretStr(TWILIO_TOKEN),
        "mango_api_key": SecretStr(MANGO_KEY),
        "mango_api_salt": SecretStr(MANGO_SALT),
        "zadarma_api_secret": SecretStr(ZADARMA_SECRET),
        "freeswitch_user": FS_USER,
        "freeswitch_password": SecretStr(FS_PASSWORD),
        **overrides,
    }
    return IngestSettings(**values)


@asynccontextmanager
async def ingest_client(
    kafka: KafkaSettings, settings: IngestSettings, limits: ProducerLimits | None = None
) -> AsyncIterator[Client]:
    producer = DurableProducer(kafka, limits or ProducerLimits(send_timeout_s=5), client_id="test-ingest-calls")
    await producer.start()
    metrics = IngestMetrics(CollectorRegistry())
    deps = IngestDeps(
        settings=settings,
        publisher=EventPublisher(producer, metrics, kafka.topics),
        metrics=metrics,
        clock=lambda: datetime.now(UTC),
        ready=CachedReadiness({"kafka": lambda: kafka_reachable(kafka)}),
    )
    try:
        async with TestClient(TestServer(build_app(deps))) as client:
            yield client
    finally:
        await producer.stop()


FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}


def twilio_request(params: Mapping[str, str], path: str = "/webhooks/twilio") -> tuple[bytes, dict[str, str]]:
    """What Twilio sends: the form, and X-Twilio-Signature from the SDK over the public URL."""
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_BASE_URL + path, dict(params))
    return urlencode(params).encode(), {**FORM, "X-Twilio-Signature": signature}


def zadarma_call_start(at: datetime | None = None) -> str:
    """A call_start as Zadarma writes it: the PBX's local time (the settings' Europe/Moscow), to the second."""
    return (at or datetime.now(UTC)).astimezone(ZoneInfo("Europe/Moscow")).strftime("%Y-%m-%d %H:%M:%S")


def zadarma_request(fields: Mapping[str, str], secret: str = ZADARMA_SECRET) -> tuple[bytes, dict[str, str]]:
    """Signed as the Zadarma PHP SDK checks it: base64(hex(HMAC-SHA1(secret, signed fields)))."""
    signed = "".join(fields.get(name, "") for name in SIGNED_FIELDS[fields["event"]])
    digest = hmac.new(secret.encode(), signed.encode(), hashlib.sha1).hexdigest()
    return urlencode(fields).encode(), {**FORM, "Signature": base64.b64encode(digest.encode()).decode()}


def basic_auth(user: str = FS_USER, password: str = FS_PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def mango_form(json_text: str, sign: str | None = None) -> bytes:
    """A Mango notification body; python-mango-office-api sends the same (see the end-to-end test)."""
    sign = sign or mango_sign(MANGO_KEY, json_text, MANGO_SALT)
    return urlencode({"vpbx_api_key": MANGO_KEY, "sign": sign, "json": json_text}).encode()
