"""Mailgun, Postmark and SMTP through the real ingest app and SMTP server into the real broker: a 200/250 only
with a record in touchpoint.emails.v1 behind it; forged, replayed, stale and bad input refused with nothing
written."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import smtplib
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from mailgun.security import SecurityGuard
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from deploy.local.procs import free_port
from schemas.events import EmailEvent
from schemas.topics import EMAILS
from services.ingest.app import IngestDeps, build_app, server_options
from services.ingest.email.mailgun import sign_mailgun
from services.ingest.email.mime import MAX_MIME_DEPTH, MAX_MIME_PARTS
from services.ingest.email.replay_cache import PostgresTokenClaims
from services.ingest.email.smtp import SmtpServer
from services.ingest.metrics import IngestMetrics
from services.ingest.publish import EventPublisher
from services.ingest.settings import IngestSettings
from services.runtime.health import CachedReadiness
from services.runtime.kafka import DurableProducer, ProducerLimits
from services.runtime.postgres import create_pool
from services.runtime.settings import DatabaseSettings, KafkaSettings
from tests.integration.helpers import (
    GENERIC_SECRET,
    ServiceProcess,
    call_body,
    headers_of,
    read_topic,
    service_env,
    signed_headers,
)

pytestmark = pytest.mark.integration

Client = TestClient[web.Request, web.Application]
MAILGUN_KEY = "test-mailgun-signing-key"
POSTMARK_USER, POSTMARK_PASSWORD = "postmark", "test-postmark-password"


def email_settings(**overrides: Any) -> IngestSettings:
    values: dict[str, Any] = {
        "mail_domains": ("example.com",),
        "mailgun_signing_key": SecretStr(MAILGUN_KEY),
        "postmark_user": POSTMARK_USER,
        "postmark_password": SecretStr(POSTMARK_PASSWORD),
        "email_max_body_bytes": 64 * 1024,
        "smtp_port": 0,
        "smtp_max_bytes": 32 * 1024,
        "smtp_max_recipients": 3,
        **overrides,
    }
    return IngestSettings(**values)


@dataclass
class Ingest:
    client: Client
    smtp: SmtpServer
    metrics: IngestMetrics


async def start_ingest(kafka: KafkaSettings, settings: IngestSettings, send_timeout_s: float = 5) -> Any:
    producer = DurableProducer(kafka, ProducerLimits(send_timeout_s=send_timeout_s), client_id="test-ingest-email")
    await producer.start()
    metrics = IngestMetrics(CollectorRegistry())
    publisher = EventPublisher(producer, metrics, kafka.topics)
    deps = IngestDeps(
        settings=settings,
        publisher=publisher,
        metrics=metrics,
        clock=lambda: datetime.now(UTC),
        ready=CachedReadiness({}),
    )
    smtp = SmtpServer(settings, publisher, metrics, lambda: datetime.now(UTC))
    await smtp.start()
    return producer, deps, smtp


@asynccontextmanager
async def running_ingest(kafka: KafkaSettings, settings: IngestSettings, **deps_changes: Any) -> AsyncIterator[Ingest]:
    """The app on a test server and the SMTP server; `deps_changes` replace parts of IngestDeps."""
    producer, deps, smtp = await start_ingest(kafka, settings)
    deps = dataclasses.replace(deps, **deps_changes)
    try:
        server = TestServer(build_app(deps))
        await server.start_server(**server_options(settings))  # as __main__ runs it; TestClient keeps it
        async with TestClient(server) as client:
            yield Ingest(client, smtp, deps.metrics)
    finally:
        await smtp.stop(grace_s=2)
        await producer.stop()


@pytest.fixture
async def ingest(kafka: KafkaSettings) -> AsyncIterator[Ingest]:
    async with running_ingest(kafka, email_settings()) as running:
        yield running


async def emails(kafka: KafkaSettings, expect: int | None = None) -> list[EmailEvent]:
    records = await read_topic(kafka, kafka.topics(EMAILS), expect=expect)
    return [EmailEvent.model_validate_json(r.value) for r in records]


# --- Mailgun ----------------------------------------------------------------------------------------------------


def mailgun_form(
    message_id: str, *, token: str | None = None, at: int | None = None, key: str = MAILGUN_KEY
) -> dict[str, str]:
    timestamp = str(int(time.time()) if at is None else at)
    token = token or uuid.uuid4().hex + uuid.uuid4().hex[:18]
    headers = [
        ["Received", "from mail.client.org by mxa.mailgun.org"],
        ["From", "Ann Client <Ann@Client.org>"],
        ["To", "sales@example.com"],
        ["Subject", "Price for 40 units?"],
        ["Message-Id", message_id],
        ["Date", "Thu, 26 Nov 2026 13:00:00 +0100"],
    ]
    return {
        "recipient": "sales@example.com",
        "sender": "ann@client.org",
        "from": "Ann Client <Ann@Client.org>",
        "subject": "Price for 40 units?",
        "body-plain": "Hello, what is the price?\r\n",
        "stripped-text": "Hello, what is the price?",
        "message-headers": json.dumps(headers),
        "timestamp": timestamp,
        "token": token,
        "signature": sign_mailgun(key.encode(), timestamp, token),
    }


async def test_mailgun_urlencoded_post_lands_in_kafka_after_a_200(ingest: Ingest, kafka: KafkaSettings) -> None:
    form = mailgun_form("<mg1@client.org>")
    # The official SDK accepts what we sign, so these fixtures are what Mailgun sends.
    assert SecurityGuard.verify_webhook(MAILGUN_KEY, form["token"], form["timestamp"], form["signature"])
    response = await ingest.client.post("/webhooks/mailgun", data=form)
    assert response.status == 200, await response.text()
    answer = await response.json()
    records = await read_topic(kafka, kafka.topics(EMAILS), expect=1)
    assert len(records) == 1
    assert records[0].key == b"ann@client.org"
    assert headers_of(records[0])["event_id"] == answer["event_id"].encode()
    event = EmailEvent.model_validate_json(records[0].value)
    assert (event.source, event.message_id, event.direction) == ("mailgun", "<mg1@client.org>", "inbound")
    assert event.text == "Hello, what is the price?"
    assert event.envelope_from == "ann@client.org"


async def test_mailgun_multipart_keeps_attachment_metadata_only(ingest: Ingest, kafka: KafkaSettings) -> None:
    form = aiohttp.FormData()
    for name, value in mailgun_form("<mg2@client.org>").items():
        form.add_field(name, value)
    form.add_field("attachment-count", "1")
    secret_bytes = b"%PDF-1.4 confidential price list " * 100
    form.add_field("attachment-1", secret_bytes, filename="prices.pdf", content_type="application/pdf")
    response = await ingest.client.post("/webhooks/mailgun", data=form)
    assert response.status == 200, await response.text()
    (record,) = await read_topic(kafka, kafka.topics(EMAILS), expect=1)
    event = EmailEvent.model_validate_json(record.value)
    (attachment,) = event.attachments
    assert (attachment.filename, attachment.content_type, attachment.size) == (
        "prices.pdf",
        "application/pdf",
        len(secret_bytes),
    )
    assert b"confidential" not in record.value


async def test_mailgun_forged_replayed_and_stale_posts_are_refused(ingest: Ingest, kafka: KafkaSettings) -> None:
    accepted = mailgun_form("<mg3@client.org>")
    assert (await ingest.client.post("/webhooks/mailgun", data=accepted)).status == 200
    cases = [
        (mailgun_form("<forged@client.org>", key="not-the-key"), "signature"),
        ({**mailgun_form("<tampered@client.org>"), "timestamp": str(int(time.time()) + 1)}, "signature"),
        (mailgun_form("<replay@client.org>", token=accepted["token"]), "token"),
        (mailgun_form("<stale@client.org>", at=int(time.time()) - 3600), "timestamp"),
        ({k: v for k, v in mailgun_form("<unsigned@client.org>").items() if k != "signature"}, "signature"),
    ]
    for form, field in cases:
        response = await ingest.client.post("/webhooks/mailgun", data=form)
        assert response.status == 401, (field, await response.text())
        problem = await response.json()
        assert field in [e["field"] for e in problem["errors"]], problem
    # Mailgun's retry of the accepted post (its answer was lost) gets the same answer and publishes nothing.
    retried = await ingest.client.post("/webhooks/mailgun", data=accepted)
    assert retried.status == 200, await retried.text()
    assert [e.message_id for e in await emails(kafka)] == ["<mg3@client.org>"]


async def test_one_mailgun_token_passes_once_across_processes_and_after_a_failed_publish(
    kafka: KafkaSettings, database_url: str
) -> None:
    """Two ingest apps (two processes behind a load balancer) share the token store: of 20 concurrent posts of
    one signed request, exactly one is published (the others are told to retry, or that it was accepted), and other
    content under its token is refused. A post whose publish failed leaves its token free for the retry."""
    nowhere = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}", request_timeout_ms=1000)
    apps = []
    pools = [await create_pool(DatabaseSettings(DATABASE_URL=database_url)) for _ in range(3)]
    try:
        for pool, broker in zip(pools, (kafka, kafka, nowhere), strict=True):
            producer, deps, smtp = await start_ingest(broker, email_settings(), send_timeout_s=1)
            deps = dataclasses.replace(deps, mailgun_tokens=PostgresTokenClaims(pool))
            client = TestClient(TestServer(build_app(deps)))
            await client.start_server()
            apps.append((producer, smtp, client))
        form = mailgun_form("<once@client.org>")
        responses = await asyncio.gather(*(apps[i % 2][2].post("/webhooks/mailgun", data=form) for i in range(20)))
        statuses = sorted(r.status for r in responses)
        assert statuses[0] == 200 and set(statuses) <= {200, 503}, statuses
        assert all(r.headers.get("Retry-After") for r in responses if r.status == 503)
        again = await apps[1][2].post("/webhooks/mailgun", data=form)
        assert again.status == 200, await again.text()
        replayed = {**mailgun_form("<replayed@client.org>", token=form["token"]), "timestamp": form["timestamp"]}
        replayed["signature"] = form["signature"]
        refused = await apps[0][2].post("/webhooks/mailgun", data=replayed)
        assert refused.status == 401, await refused.text()

        retried = mailgun_form("<retried@client.org>")
        failed = await apps[2][2].post("/webhooks/mailgun", data=retried)  # its broker is unreachable
        assert failed.status == 503, await failed.text()
        again = await apps[0][2].post("/webhooks/mailgun", data=retried)
        assert again.status == 200, await again.text()
    finally:
        for producer, smtp, client in apps:
            await client.close()
            await smtp.stop(grace_s=1)
            await producer.stop()
        for pool in pools:
            await pool.close()
    got = sorted(e.message_id or "" for e in await emails(kafka, expect=2))
    assert got == ["<once@client.org>", "<retried@client.org>"]


async def test_mailgun_permanent_errors_are_406_naming_the_field(ingest: Ingest, kafka: KafkaSettings) -> None:
    bad_headers = {**mailgun_form("<bad@client.org>"), "message-headers": "{not json"}
    no_recipient = {k: v for k, v in mailgun_form("<bad2@client.org>").items() if k != "recipient"}
    huge = {**mailgun_form("<big@client.org>"), "body-plain": "x" * 70_000}
    cases: list[tuple[Any, dict[str, str], str]] = [
        (bad_headers, {}, "message-headers"),
        (no_recipient, {}, "recipient"),
        (huge, {}, "body"),
        (b"timestamp=1&token=%FF%FE", {"Content-Type": "application/x-www-form-urlencoded"}, "body"),
        (b'{"a": 1}', {"Content-Type": "application/json"}, "Content-Type"),
        (b"--x\r\nbroken", {"Content-Type": "multipart/form-data; boundary=x"}, "body"),
        (
            b'--x\r\nContent-Disposition: form-data; name="token"\r\n\r\ntruncated before the closing boundary',
            {"Content-Type": "multipart/form-data; boundary=x"},
            "body",
        ),
        (
            b'--x\r\nContent-Disposition: form-data; name="subject"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
            b"\xff\xfe\r\n--x--\r\n",
            {"Content-Type": "multipart/form-data; boundary=x"},
            "subject",
        ),
    ]
    for data, headers, field in cases:
        response = await ingest.client.post("/webhooks/mailgun", data=data, headers=headers)
        assert response.status == 406, (field, await response.text())
        assert response.content_type == "application/problem+json"
        problem = await response.json()
        assert field in [e["field"] for e in problem["errors"]], problem
    assert await emails(kafka) == []


async def test_mailgun_retry_of_the_same_message_gets_the_same_event_id(ingest: Ingest) -> None:
    first = await (await ingest.client.post("/webhooks/mailgun", data=mailgun_form("<same@client.org>"))).json()
    second = await (await ingest.client.post("/webhooks/mailgun", data=mailgun_form("<same@client.org>"))).json()
    assert first["event_id"] == second["event_id"]


# --- Postmark ---------------------------------------------------------------------------------------------------


def postmark_body(message_id: str = "pm-1", **extra: Any) -> bytes:
    body = {
        "From": "ann@client.org",
        "FromName": "Ann Client",
        "FromFull": {"Email": "ann@client.org", "Name": "Ann Client", "MailboxHash": ""},
        "To": "sales@example.com",
        "ToFull": [{"Email": "sales@example.com", "Name": "", "MailboxHash": ""}],
        "OriginalRecipient": "sales@example.com",
        "Subject": "Re: your offer",
        "MessageID": message_id,
        "Date": "Thu, 26 Nov 2026 13:00:00 +01:00",
        "TextBody": "Sounds good.",
        "Headers": [
            {"Name": "Message-ID", "Value": f"<{message_id}@client.org>"},
            {"Name": "Auto-Submitted", "Value": "auto-replied"},
        ],
        "Attachments": [],
        **extra,
    }
    return json.dumps(body).encode()


def basic(user: str = POSTMARK_USER, password: str = POSTMARK_PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}


async def test_postmark_inbound_lands_in_kafka_after_a_200(ingest: Ingest, kafka: KafkaSettings) -> None:
    response = await ingest.client.post("/webhooks/postmark", data=postmark_body(), headers=basic())
    assert response.status == 200, await response.text()
    (event,) = await emails(kafka, expect=1)
    assert (event.source, event.provider_message_id, event.message_id) == ("postmark", "pm-1", "<pm-1@client.org>")
    assert event.is_auto_reply is True
    assert event.sent_at == datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


async def test_postmark_bad_credentials_and_bad_input_are_refused(ingest: Ingest, kafka: KafkaSettings) -> None:
    cases: list[tuple[bytes, dict[str, str], int, str]] = [
        (postmark_body(), {"Content-Type": "application/json"}, 401, "Authorization"),
        (postmark_body(), basic(password="wrong"), 401, "Authorization"),
        (b"{not json", basic(), 400, "body"),
        ('{"MessageID": "\xff"}'.encode("latin-1"), basic(), 400, "body"),
        (json.dumps({"From": "a@b.org"}).encode(), basic(), 422, "MessageID"),
        (postmark_body(ToFull="nope"), basic(), 422, "ToFull"),
        (postmark_body(TextBody="x" * 70_000), basic(), 413, "body"),
        (postmark_body(), {**basic(), "Content-Type": "text/plain"}, 415, "Content-Type"),
    ]
    for data, headers, status, field in cases:
        response = await ingest.client.post("/webhooks/postmark", data=data, headers=headers)
        assert response.status == status, (field, await response.text())
        problem = await response.json()
        assert field in [e["field"] for e in problem["errors"]], problem
        if status == 401:
            assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert await emails(kafka) == []


async def test_unconfigured_email_sources_answer_403(kafka: KafkaSettings) -> None:
    settings = email_settings(mailgun_signing_key=None, postmark_password=None)
    producer, deps, smtp = await start_ingest(kafka, settings)
    try:
        async with TestClient(TestServer(build_app(deps))) as client:
            mailgun = await client.post("/webhooks/mailgun", data=mailgun_form("<x@client.org>"))
            postmark = await client.post("/webhooks/postmark", data=postmark_body(), headers=basic())
            assert (mailgun.status, postmark.status) == (403, 403)
            assert (await postmark.json())["type"] == "/problems/source-not-configured"
    finally:
        await smtp.stop(grace_s=1)
        await producer.stop()


# --- SMTP -------------------------------------------------------------------------------------------------------


def smtp_message(
    message_id: str, to: str = "sales@example.com", body: str = "Hi, call me back please."
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Ann Client <ann@client.org>"
    msg["To"] = to
    msg["Subject"] = "Callback"
    msg["Message-ID"] = message_id
    msg["Date"] = "Thu, 26 Nov 2026 13:00:00 +0100"
    msg.set_content(body)
    return msg


async def test_smtp_mail_is_250_only_with_a_record_in_kafka(ingest: Ingest, kafka: KafkaSettings) -> None:
    _, reply = await aiosmtplib.send(
        smtp_message("<smtp1@client.org>"),
        hostname="127.0.0.1",
        port=ingest.smtp.port,
        sender="ann@client.org",
        recipients=["sales@example.com"],
    )
    assert reply.startswith("2.0.0 OK smtp:")
    (record,) = await read_topic(kafka, kafka.topics(EMAILS), expect=1)
    event = EmailEvent.model_validate_json(record.value)
    assert reply.endswith(event.event_id)
    assert record.key == b"ann@client.org"
    assert (event.envelope_from, event.envelope_to) == ("ann@client.org", ("sales@example.com",))
    assert event.text == "Hi, call me back please."


async def test_smtplib_outbound_mail(ingest: Ingest, kafka: KafkaSettings) -> None:
    """The stdlib client too; an outbound copy (from us to a client) keys by the client."""
    msg = smtp_message("<smtp2@example.com>", to="Ann <ann@client.org>, sales@example.com")
    msg.replace_header("From", "Bob <bob@example.com>")

    def send() -> dict[str, tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", ingest.smtp.port, timeout=30) as client:
            return client.send_message(msg, from_addr="bob@example.com", to_addrs=["archive@example.com"])

    assert await asyncio.to_thread(send) == {}
    (event,) = await emails(kafka, expect=1)
    assert (event.direction, event.counterpart, event.our_address) == ("outbound", "ann@client.org", "bob@example.com")


async def test_smtp_refuses_foreign_recipients_too_many_and_too_large(ingest: Ingest, kafka: KafkaSettings) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=ingest.smtp.port)
    async with client:
        await client.ehlo()
        await client.mail("ann@client.org")
        foreign = await client.execute_command(b"RCPT", b"TO:<someone@elsewhere.org>")
        assert foreign.code == 550
        for i in range(3):
            assert (await client.rcpt(f"s{i}@example.com")).code == 250
        assert (await client.execute_command(b"RCPT", b"TO:<s4@example.com>")).code == 452
        await client.rset()
        big = smtp_message("<big@client.org>", body="x" * 40_000).as_bytes()
        with pytest.raises((aiosmtplib.SMTPDataError, aiosmtplib.SMTPSenderRefused)) as refused:
            await client.sendmail("ann@client.org", ["sales@example.com"], big)
        assert refused.value.code == 552
    assert await emails(kafka) == []
    metrics = ingest.metrics.registry
    assert metrics.get_sample_value("touchpoint_ingest_smtp_messages_total", {"result": "too_large"}) == 1
    assert metrics.get_sample_value("touchpoint_ingest_smtp_messages_total", {"result": "rejected_recipient"}) == 2
    assert (metrics.get_sample_value("touchpoint_ingest_smtp_sessions_total") or 0) >= 1


async def test_smtp_data_over_the_limit_without_size_is_552(ingest: Ingest, kafka: KafkaSettings) -> None:
    """A client that does not announce SIZE still gets 552 at the end of DATA."""
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=ingest.smtp.port)
    async with client:
        await client.helo()  # plain HELO: no ESMTP, so no SIZE parameter
        await client.mail("ann@client.org")
        await client.rcpt("sales@example.com")
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await client.data(smtp_message("<big2@client.org>", body="y" * 40_000).as_bytes())
        assert refused.value.code == 552
    assert await emails(kafka) == []


async def test_ingest_process_serves_smtp_and_stops_on_sigterm(
    kafka: KafkaSettings, database_url: str, tmp_path: Path
) -> None:
    """The composition root starts SMTP next to HTTP on one loop and stops both on SIGTERM."""
    env = service_env(kafka, database_url, TOUCHPOINT_MAIL_DOMAINS="example.com")
    proc = ServiceProcess("ingest", env, tmp_path / "ingest.log")
    await proc.start()
    try:
        port = int(proc.env["TOUCHPOINT_SMTP_PORT"])
        await aiosmtplib.send(
            smtp_message("<proc@client.org>"),
            hostname="127.0.0.1",
            port=port,
            sender="ann@client.org",
            recipients=["sales@example.com"],
        )
        (event,) = await emails(kafka, expect=1)
        assert event.message_id == "<proc@client.org>"
    finally:
        code = await proc.stop()
    assert code == 0, proc.logs()[-3000:]
    assert '"ingest.stopped"' in proc.logs()


def many_parts(n: int) -> EmailMessage:
    msg = smtp_message("<huge@client.org>")
    for i in range(n):
        msg.add_attachment(b"x" * 2000, maintype="application", subtype="octet-stream", filename=f"f{i}.bin")
    return msg


def tiny_parts(n: int) -> bytes:
    head = b"From: ann@client.org\r\nTo: sales@example.com\r\nMessage-ID: <tiny@client.org>\r\nMIME-Version: 1.0\r\n"
    parts = b"".join(b"--b\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n" for _ in range(n))
    return head + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + parts + b"--b--\r\n"


def nested_parts(depth: int) -> bytes:
    head = b"From: ann@client.org\r\nTo: sales@example.com\r\nMessage-ID: <deep@client.org>\r\nMIME-Version: 1.0\r\n"
    opening = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(depth))
    closing = b"".join(b"\r\n--b%d--" % i for i in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nhi" + closing + b"\r\n"


async def test_a_message_of_too_many_or_too_deeply_nested_parts_is_refused_and_nothing_published(
    kafka: KafkaSettings,
) -> None:
    """Each part is an object while the message is parsed: 25 MiB of tiny parts cost seconds and a gigabyte. Over
    MAX_MIME_PARTS or MAX_MIME_DEPTH the message is refused where it came in (SMTP 554, Mailgun 406 naming
    body-mime), permanently, with nothing written."""
    settings = email_settings(smtp_max_bytes=1 << 20, email_max_body_bytes=1 << 20)
    async with running_ingest(kafka, settings) as ingest:
        for raw, why in (
            (tiny_parts(MAX_MIME_PARTS + 1), "MIME parts"),
            (nested_parts(MAX_MIME_DEPTH + 1), "deep"),
        ):
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=ingest.smtp.port, timeout=60)
            async with client:
                with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                    await client.sendmail("ann@client.org", ["sales@example.com"], raw)
            assert refused.value.code == 554 and why in refused.value.message, refused.value
            form = {**mailgun_form("<mime@client.org>"), "body-mime": raw.decode()}
            response = await ingest.client.post("/webhooks/mailgun", data=form)
            assert response.status == 406, await response.text()
            problem = await response.json()
            assert [e["field"] for e in problem["errors"]] == ["body-mime"] and why in problem["detail"], problem
        invalid = ingest.metrics.registry.get_sample_value(
            "touchpoint_ingest_smtp_messages_total", {"result": "invalid"}
        )
        assert invalid == 2
        # Just under both limits is a message like any other.
        _, reply = await aiosmtplib.send(
            nested_parts(MAX_MIME_DEPTH),
            hostname="127.0.0.1",
            port=ingest.smtp.port,
            sender="ann@client.org",
            recipients=["sales@example.com"],
        )
        assert reply.startswith("2.0.0 OK smtp:")
    assert [e.message_id for e in await emails(kafka, expect=1)] == ["<deep@client.org>"]


async def test_webhooks_are_answered_while_a_huge_email_is_parsed(kafka: KafkaSettings) -> None:
    """A message of a thousand parts takes seconds to parse; on the event loop it froze every webhook for that
    long. Each webhook sent meanwhile must take a small part of the message's time, not all of it."""
    settings = email_settings(smtp_max_bytes=8 * 1024 * 1024, generic_secret=SecretStr(GENERIC_SECRET))
    producer, deps, smtp = await start_ingest(kafka, settings)
    try:
        async with TestClient(TestServer(build_app(deps))) as client:
            started = time.monotonic()
            send = asyncio.create_task(
                aiosmtplib.send(
                    many_parts(MAX_MIME_PARTS - 1),  # with the text part: as many parts as a message may have
                    hostname="127.0.0.1",
                    port=smtp.port,
                    sender="ann@client.org",
                    recipients=["sales@example.com"],
                    timeout=120,
                )
            )
            latencies: list[float] = []
            while not send.done():
                body = call_body(f"during-{len(latencies)}", event="ringing")
                asked = time.monotonic()
                response = await client.post("/webhooks/generic", data=body, headers=signed_headers(body))
                assert response.status == 202, await response.text()
                latencies.append(time.monotonic() - asked)
                await asyncio.sleep(0.02)
            _, reply = await send
            took = time.monotonic() - started
    finally:
        await smtp.stop(grace_s=2)
        await producer.stop()
    assert reply.startswith("2.0.0 OK smtp:")
    assert len(latencies) >= 5, (latencies, took)
    assert max(latencies) < took / 4, (max(latencies), took)
