"""Ingest while the broker is down: 503 with Retry-After, never 2xx; back to 202 when the broker returns."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from deploy.local.kafka_broker import LocalKafka
from deploy.local.procs import free_port
from schemas.topics import ALL_TOPICS, CALLS
from services.ingest.app import IngestDeps, build_app
from services.ingest.metrics import IngestMetrics
from services.ingest.publish import EventPublisher
from services.ingest.settings import IngestSettings
from services.runtime.health import CachedReadiness
from services.runtime.kafka import DurableProducer, ProducerLimits, ensure_topics, kafka_reachable
from services.runtime.settings import KafkaSettings
from tests.conftest import server_dir
from tests.integration.helpers import GENERIC_SECRET, call_body, read_topic, signed_headers

pytestmark = pytest.mark.integration


@pytest.fixture
def own_broker() -> Iterator[LocalKafka]:
    """A broker of this test's own, since the test stops it."""
    with server_dir("outage-kafka") as data:
        broker = LocalKafka(data, port=free_port())
        broker.start()
        yield broker
        broker.stop()


async def test_broker_down_means_503_then_recovery(own_broker: LocalKafka) -> None:
    kafka = KafkaSettings(bootstrap_servers=own_broker.bootstrap, request_timeout_ms=3000)
    await ensure_topics(kafka, ALL_TOPICS)
    producer = DurableProducer(kafka, ProducerLimits(send_timeout_s=2), client_id="test-outage")
    await producer.start()
    metrics = IngestMetrics(CollectorRegistry())
    deps = IngestDeps(
        settings=IngestSettings(generic_secret=SecretStr(GENERIC_SECRET), retry_after_s=7),
        publisher=EventPublisher(producer, metrics, kafka.topics),
        metrics=metrics,
        clock=lambda: datetime.now(UTC),
        ready=CachedReadiness({"kafka": lambda: kafka_reachable(kafka)}, 0),
    )
    accepted: list[str] = []
    try:
        async with TestClient(TestServer(build_app(deps))) as client:
            body = call_body(f"c-{uuid.uuid4()}")
            assert (await client.post("/webhooks/generic", data=body, headers=signed_headers(body))).status == 202
            accepted.append(body.decode())

            own_broker.stop()
            statuses = []
            for _ in range(3):
                body = call_body(f"c-{uuid.uuid4()}")
                started = time.monotonic()
                response = await client.post("/webhooks/generic", data=body, headers=signed_headers(body))
                statuses.append(response.status)
                assert time.monotonic() - started < 10, "a 503 must not wait much past the send timeout"
                assert response.headers["Retry-After"] == "7"
                assert (await response.json())["type"] == "/problems/kafka-unavailable"
            assert statuses == [503, 503, 503]
            assert (await client.get("/readyz")).status == 503

            own_broker.start()
            body = call_body(f"c-{uuid.uuid4()}")
            final_status = 0
            for _ in range(30):  # the provider's retries, compressed
                retry = await client.post("/webhooks/generic", data=body, headers=signed_headers(body))
                final_status = retry.status
                if final_status == 202:
                    break
                assert final_status == 503
                await asyncio.sleep(0.5)
            assert final_status == 202
            accepted.append(body.decode())
    finally:
        await producer.stop()
    # Every 202 is in Kafka; the 503s may or may not be (ambiguous), the provider retries them with the same id.
    records = await read_topic(kafka, kafka.topics(CALLS), timeout=20)
    stored_calls = {r.value.decode() for r in records}
    for body_text in accepted:
        call_id = body_text.split('"call_id": "')[1].split('"')[0]
        assert any(call_id in value for value in stored_calls), f"acknowledged {call_id} missing from Kafka"
