"""Ingest's load limits through the real app and SMTP server on the real broker: past a limit the sender is told
to come back (503 + Retry-After, SMTP 421/451), every 2xx is in Kafka, and a slow body is cut off (408)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import aiosmtplib
import pytest
from pydantic import SecretStr

from schemas.topics import CALLS
from services.ingest.limits import LoadLimits
from services.runtime.settings import KafkaSettings
from tests.integration.helpers import GENERIC_SECRET, call_body, read_topic, signed_headers
from tests.integration.test_ingest_email import Ingest, email_settings, running_ingest, smtp_message

pytestmark = pytest.mark.integration


@pytest.fixture
async def ingest(kafka: KafkaSettings) -> AsyncIterator[Ingest]:
    settings = email_settings(
        generic_secret=SecretStr(GENERIC_SECRET),
        max_concurrent_requests=3,
        max_smtp_sessions=2,
        body_read_timeout_s=1.0,
        retry_after_s=7,
    )
    limits = LoadLimits(settings.max_concurrent_requests, 1 << 30)
    async with running_ingest(kafka, settings, limits=limits) as running:
        yield running


async def test_requests_past_the_limit_get_503_and_every_2xx_is_in_kafka(ingest: Ingest, kafka: KafkaSettings) -> None:
    async def post(i: int) -> tuple[int, str | None, str | None]:
        body = call_body(f"burst-{i}", event="ringing")
        response = await ingest.client.post("/webhooks/generic", data=body, headers=signed_headers(body))
        answer = await response.json()
        return response.status, response.headers.get("Retry-After"), answer.get("event_id")

    results = await asyncio.gather(*(post(i) for i in range(40)))
    accepted = {event_id for status, _, event_id in results if status == 202}
    refused = [(status, retry) for status, retry, _ in results if status != 202]
    assert accepted and refused, results
    assert set(refused) == {(503, "7")}
    records = await read_topic(kafka, kafka.topics(CALLS), expect=len(accepted))
    assert {dict(r.headers)["event_id"].decode() for r in records} == accepted
    assert (await ingest.client.get("/healthz")).status == 200  # health is not a webhook: never limited


async def test_smtp_sessions_past_the_limit_get_421(ingest: Ingest) -> None:
    held = [aiosmtplib.SMTP(hostname="127.0.0.1", port=ingest.smtp.port) for _ in range(2)]
    for client in held:
        await client.connect()
    try:
        with pytest.raises(aiosmtplib.SMTPConnectError) as refused:
            await aiosmtplib.send(
                smtp_message("<third@client.org>"),
                hostname="127.0.0.1",
                port=ingest.smtp.port,
                sender="ann@client.org",
                recipients=["sales@example.com"],
            )
        assert "421" in str(refused.value)
    finally:
        for client in held:
            client.close()


async def test_a_body_slower_than_the_timeout_gets_408(ingest: Ingest) -> None:
    body = call_body("slow", event="ringing")

    async def trickle() -> AsyncIterator[bytes]:
        for byte in body:
            yield bytes([byte])
            await asyncio.sleep(0.05)  # the whole body would take several seconds

    url = str(ingest.client.make_url("/webhooks/generic"))
    headers = {**signed_headers(body), "Content-Length": str(len(body))}
    async with aiohttp.ClientSession() as session:
        try:
            async with session.post(url, data=trickle(), headers=headers) as response:
                assert response.status == 408
                assert (await response.json())["type"] == "/problems/body-timeout"
        except aiohttp.ClientError:
            pass  # the server may close the connection before the client reads the 408: also a cut-off
    timed_out = ingest.metrics.registry.get_sample_value(
        "touchpoint_ingest_requests_total", {"source": "generic", "status": "408"}
    )
    assert timed_out == 1
