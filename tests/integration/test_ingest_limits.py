"""Ingest's load limits through the real app and SMTP server on the real broker: past a limit the sender is told
to come back (503 + Retry-After, SMTP 421/451), every 2xx is in Kafka, and a slow body is cut off (408)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import aiohttp
import aiosmtplib
import pytest
import uvloop
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


SLOW_HEAD = b"POST /webhooks/generic HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 200


async def cut_off_after(reader: asyncio.StreamReader, limit_s: float) -> float:
    """Seconds until the server closed the connection (the read sees EOF or a reset); TimeoutError past limit_s."""
    started = time.monotonic()
    async with asyncio.timeout(limit_s):
        try:
            while await reader.read(4096):
                pass
        except ConnectionError:
            pass
    return time.monotonic() - started


async def test_a_client_sending_its_headers_byte_by_byte_is_cut_off_and_others_are_served(
    kafka: KafkaSettings,
) -> None:
    """aiohttp waits for a request head as long as its keep-alive timeout, an hour by default: slow-header clients
    would hold their connections (and file descriptors) that long. They are cut at header_read_timeout_s."""
    settings = email_settings(generic_secret=SecretStr(GENERIC_SECRET), header_read_timeout_s=1.0)
    async with running_ingest(kafka, settings) as ingest:
        host, port = str(ingest.client.host), int(ingest.client.port or 0)

        async def slow_client() -> float:
            reader, writer = await asyncio.open_connection(host, port)

            async def dribble() -> None:
                for byte in SLOW_HEAD:  # about 13 s for the whole head
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(0.05)

            sending = asyncio.create_task(dribble())
            try:
                return await cut_off_after(reader, 6.0)
            finally:
                sending.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await sending
                writer.close()

        slow = [asyncio.create_task(slow_client()) for _ in range(20)]
        await asyncio.sleep(0.3)
        for i in range(3):  # served while the slow clients dribble
            body = call_body(f"while-slow-{i}", event="ringing")
            response = await ingest.client.post("/webhooks/generic", data=body, headers=signed_headers(body))
            assert response.status == 202, await response.text()
        cut = await asyncio.gather(*slow)
    assert max(cut) < 3.5, cut


async def test_smtp_sessions_held_by_slow_or_idle_senders_end_and_free_their_slot(kafka: KafkaSettings) -> None:
    """aiosmtpd's timeout restarts at every complete command: a NOOP now and then held a session slot for ever.
    A session ends after smtp_session_max_s (421), and a command not complete within smtp_command_timeout_s."""
    settings = email_settings(max_smtp_sessions=2, smtp_session_max_s=1.5, smtp_command_timeout_s=1.0)
    async with running_ingest(kafka, settings) as ingest:

        async def nooper() -> tuple[float, bytes]:
            reader, writer = await asyncio.open_connection("127.0.0.1", ingest.smtp.port)
            started = time.monotonic()
            try:
                await reader.readline()  # 220
                async with asyncio.timeout(6.0):
                    while True:
                        writer.write(b"NOOP\r\n")
                        line = await reader.readline()
                        if not line.startswith(b"250"):
                            return time.monotonic() - started, line
                        await asyncio.sleep(0.2)
            finally:
                writer.close()

        async def dribbler() -> float:
            reader, writer = await asyncio.open_connection("127.0.0.1", ingest.smtp.port)
            try:
                await reader.readline()
                for byte in b"EHLO slow.client.org":  # one byte every 0.3 s: never a whole command in time
                    writer.write(bytes([byte]))
                    await asyncio.sleep(0.3)
                    if reader.at_eof():
                        break
                return await cut_off_after(reader, 6.0)
            finally:
                writer.close()

        noop_task, dribble_task = asyncio.create_task(nooper()), asyncio.create_task(dribbler())
        await asyncio.sleep(0.5)
        with pytest.raises(aiosmtplib.SMTPConnectError):  # both slots are taken
            await aiosmtplib.send(
                smtp_message("<while-held@client.org>"),
                hostname="127.0.0.1",
                port=ingest.smtp.port,
                sender="ann@client.org",
                recipients=["sales@example.com"],
            )
        noop_s, reply = await noop_task
        dribble_s = await dribble_task
        assert reply.startswith(b"421") and noop_s < 3.0, (noop_s, reply)
        assert dribble_s < 3.0, dribble_s
        _, accepted = await aiosmtplib.send(
            smtp_message("<after-held@client.org>"),
            hostname="127.0.0.1",
            port=ingest.smtp.port,
            sender="ann@client.org",
            recipients=["sales@example.com"],
        )
        assert accepted.startswith("2.0.0 OK smtp:")
    expired = ingest.metrics.registry.get_sample_value(
        "touchpoint_ingest_smtp_messages_total", {"result": "session_expired"}
    )
    assert expired == 1


def test_on_uvloop_a_session_is_ended_after_its_maximum(kafka: KafkaSettings) -> None:
    """Every process runs on uvloop, whose transports are not asyncio's classes: a check on those classes let a
    session outlive TOUCHPOINT_SMTP_SESSION_MAX_S (the refusal past the limit: tests/unit/.../test_smtp_refusal)."""
    uvloop.run(_session_ends(kafka))


async def _session_ends(kafka: KafkaSettings) -> None:
    settings = email_settings(smtp_session_max_s=1.0, smtp_command_timeout_s=5.0)
    async with running_ingest(kafka, settings) as ingest:
        reader, writer = await asyncio.open_connection("127.0.0.1", ingest.smtp.port)
        try:
            async with asyncio.timeout(4.0):
                assert (await reader.readline()).startswith(b"220")
                assert (await reader.readline()).startswith(b"421 4.4.2")
        finally:
            writer.close()
