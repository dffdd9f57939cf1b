"""SMTP while the broker is down: 451 (the sending MTA keeps the mail and retries), never 250; 250 again once
the broker is back, and every 250 has its record in Kafka."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
from prometheus_client import CollectorRegistry

from deploy.local.kafka_broker import LocalKafka
from deploy.local.procs import free_port
from schemas.events import EmailEvent
from schemas.topics import ALL_TOPICS, EMAILS
from services.ingest.email.smtp import SmtpServer
from services.ingest.metrics import IngestMetrics
from services.ingest.publish import EventPublisher
from services.ingest.settings import IngestSettings
from services.runtime.kafka import DurableProducer, ProducerLimits, ensure_topics
from services.runtime.settings import KafkaSettings
from tests.integration.helpers import read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    """A broker of this test's own, since the test stops it."""
    broker = LocalKafka(tmp_path / "kafka", port=free_port())
    broker.start()
    yield broker
    broker.stop()


def message(n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "ann@client.org"
    msg["To"] = "sales@example.com"
    msg["Subject"] = f"outage {n}"
    msg["Message-ID"] = f"<outage-{n}@client.org>"
    msg.set_content("please call back")
    return msg


async def send(port: int, n: int) -> int:
    """The SMTP reply code to the end of DATA."""
    try:
        await aiosmtplib.send(message(n), hostname="127.0.0.1", port=port, timeout=30)
    except aiosmtplib.SMTPDataError as exc:
        return exc.code
    return 250


async def test_broker_down_means_451_then_250_again(own_broker: LocalKafka) -> None:
    kafka = KafkaSettings(bootstrap_servers=own_broker.bootstrap, request_timeout_ms=3000)
    await ensure_topics(kafka, ALL_TOPICS)
    producer = DurableProducer(kafka, ProducerLimits(send_timeout_s=2), client_id="test-smtp-outage")
    await producer.start()
    metrics = IngestMetrics(CollectorRegistry())
    settings = IngestSettings(mail_domains=("example.com",), smtp_port=0)
    smtp = SmtpServer(settings, EventPublisher(producer, metrics, kafka.topics), metrics, lambda: datetime.now(UTC))
    await smtp.start()
    accepted: list[str] = []
    try:
        assert await send(smtp.port, 1) == 250
        accepted.append("<outage-1@client.org>")

        own_broker.stop()
        assert [await send(smtp.port, n) for n in (2, 3)] == [451, 451]
        assert (
            metrics.registry.get_sample_value("touchpoint_ingest_smtp_messages_total", {"result": "unavailable"}) == 2
        )

        own_broker.start()
        code = 0
        for _ in range(30):  # the sending MTA's retries, compressed
            code = await send(smtp.port, 4)
            if code == 250:
                break
            assert code == 451
            await asyncio.sleep(0.5)
        assert code == 250
        accepted.append("<outage-4@client.org>")
    finally:
        await smtp.stop(grace_s=3)
        await producer.stop()
    stored = {EmailEvent.model_validate_json(r.value).message_id for r in await read_topic(kafka, kafka.topics(EMAILS))}
    assert set(accepted) <= stored, f"a 250 without its record: {set(accepted) - stored}"
