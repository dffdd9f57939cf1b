"""The generic feed through the real ingest app into the real broker: 202 only with a record behind it,
every kind of bad input refused with a problem body and no record."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from schemas.events import CallEvent
from schemas.topics import CALLS
from services.ingest.app import IngestDeps, build_app
from services.ingest.metrics import IngestMetrics
from services.ingest.publish import EventPublisher
from services.ingest.settings import IngestSettings
from services.runtime.health import CachedReadiness
from services.runtime.kafka import DurableProducer, ProducerLimits, kafka_reachable
from services.runtime.settings import KafkaSettings
from tests.integration.helpers import GENERIC_SECRET, call_body, headers_of, read_topic, signed_headers

pytestmark = pytest.mark.integration

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(kafka: KafkaSettings) -> AsyncIterator[Client]:
    settings = IngestSettings(generic_secret=SecretStr(GENERIC_SECRET), max_body_bytes=4096)
    producer = DurableProducer(kafka, ProducerLimits(send_timeout_s=5), client_id="test-ingest")
    await producer.start()
    metrics = IngestMetrics(CollectorRegistry())
    deps = IngestDeps(
        settings=settings,
        publisher=EventPublisher(producer, metrics, kafka.topics),
        metrics=metrics,
        clock=lambda: datetime.now(UTC),
        ready=CachedReadiness({"kafka": lambda: kafka_reachable(kafka)}),
    )
    async with TestClient(TestServer(build_app(deps))) as test_client:
        yield test_client
    await producer.stop()


async def test_signed_event_is_acknowledged_only_with_a_record_in_kafka(client: Client, kafka: KafkaSettings) -> None:
    call_id = f"c-{uuid.uuid4()}"
    body = call_body(call_id, agent="101", duration_s=0)
    response = await client.post("/webhooks/generic", data=body, headers=signed_headers(body))
    assert response.status == 202, await response.text()
    answer = await response.json()

    records = await read_topic(kafka, kafka.topics(CALLS), expect=1)
    assert len(records) == 1
    record = records[0]
    assert record.key == b"+14155550123"
    event = CallEvent.model_validate_json(record.value)
    assert event.event_id == answer["event_id"]
    assert event.call_id == call_id
    assert event.status == "missed"
    assert event.agent == "101"
    assert headers_of(record)["event_id"] == answer["event_id"].encode()


async def test_a_retried_delivery_gets_the_same_event_id(client: Client) -> None:
    body = call_body(f"c-{uuid.uuid4()}")
    first = await (await client.post("/webhooks/generic", data=body, headers=signed_headers(body))).json()
    second = await (await client.post("/webhooks/generic", data=body, headers=signed_headers(body))).json()
    assert first["event_id"] == second["event_id"]


# Headers are signed when the test runs, not when it is collected: a signature ages while the suite runs.
_WIDE = b"[" * 5000 + b"]" * 5000
_DEEP = b"[" * 1500 + b"]" * 1500
BAD_REQUESTS = [
    pytest.param(
        lambda: {"Content-Type": "application/json"}, call_body("x"), 401, "X-Touchpoint-Signature", id="unsigned"
    ),
    pytest.param(
        lambda: {**signed_headers(call_body("x"), secret="wrong")},
        call_body("x"),
        401,
        "X-Touchpoint-Signature",
        id="mis-signed",
    ),
    pytest.param(
        lambda: signed_headers(call_body("x"), at=int(time.time()) - 600),
        call_body("x"),
        401,
        "X-Touchpoint-Signature",
        id="stale",
    ),
    pytest.param(lambda: signed_headers(b"{not json"), b"{not json", 400, "body", id="malformed-json"),
    pytest.param(
        lambda: signed_headers('{"call_id": "\xff"}'.encode("latin-1")),
        '{"call_id": "\xff"}'.encode("latin-1"),
        400,
        "body",
        id="wrong-charset",
    ),
    pytest.param(lambda: signed_headers(b"[1,2]"), b"[1,2]", 422, None, id="not-an-object"),
    pytest.param(
        lambda: signed_headers(json.dumps({"call_id": "x"}).encode()),
        json.dumps({"call_id": "x"}).encode(),
        422,
        "event",
        id="missing-field",
    ),
    pytest.param(
        lambda: signed_headers(b"[" * 5000 + b"]" * 5000), b"[" * 5000 + b"]" * 5000, 413, "body", id="too-large"
    ),
    pytest.param(
        lambda: signed_headers(b"[" * 1500 + b"]" * 1500), b"[" * 1500 + b"]" * 1500, 400, "body", id="deeply-nested"
    ),
    pytest.param(
        lambda: {**signed_headers(call_body("x")), "Content-Type": "text/plain"},
        call_body("x"),
        415,
        "Content-Type",
        id="wrong-content-type",
    ),
]


@pytest.mark.parametrize(("headers", "body", "status", "field"), BAD_REQUESTS)
async def test_bad_input_gets_a_problem_and_writes_nothing(
    client: Client,
    kafka: KafkaSettings,
    headers: Callable[[], dict[str, str]],
    body: bytes,
    status: int,
    field: str | None,
) -> None:
    # Signed as it is sent: a signature made when the tests were collected may be past its 300 s by now.
    response = await client.post("/webhooks/generic", data=body, headers=headers())
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["status"] == status
    assert problem["title"] and problem["detail"]
    if field is not None:
        assert field in [e["field"] for e in problem["errors"]], problem
    assert await read_topic(kafka, kafka.topics(CALLS)) == []


async def test_wrong_method_is_405_with_allow(client: Client) -> None:
    response = await client.get("/webhooks/generic")
    assert response.status == 405
    assert response.headers["Allow"] == "POST"
    assert response.content_type == "application/problem+json"


async def test_health_ready_metrics_and_openapi(client: Client) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["kafka"] is True
    body = call_body(f"c-{uuid.uuid4()}")
    await client.post("/webhooks/generic", data=body, headers=signed_headers(body))
    metrics = await (await client.get("/metrics")).text()
    assert 'touchpoint_ingest_requests_total{source="generic",status="202"} 1.0' in metrics
    assert "touchpoint_ingest_produce_seconds_bucket" in metrics
    spec = await (await client.get("/openapi.json")).json()
    assert "/webhooks/generic" in spec["paths"]


async def test_unconfigured_source_is_refused(kafka: KafkaSettings) -> None:
    producer = DurableProducer(kafka, ProducerLimits(), client_id="test-ingest")
    metrics = IngestMetrics(CollectorRegistry())
    deps = IngestDeps(
        settings=IngestSettings(generic_secret=None),
        publisher=EventPublisher(producer, metrics, kafka.topics),
        metrics=metrics,
        clock=lambda: datetime.now(UTC),
        ready=CachedReadiness({}),
    )
    async with TestClient(TestServer(build_app(deps))) as client:
        body = call_body("x")
        response = await client.post("/webhooks/generic", data=body, headers=signed_headers(body))
        assert response.status == 403
        assert (await response.json())["type"] == "/problems/source-not-configured"
