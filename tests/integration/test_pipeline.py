"""The thin slice end to end, every service a real process on the real broker and PostgreSQL:
webhook → touchpoint.calls.v1 → classifier → interactions row + touchpoint.interactions.v1 → reporting API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from schemas.records import DeadLetter, InteractionChanged
from schemas.topics import CALLS, DLQ, INTERACTIONS
from services.reporting.accounts import add_user, issue_api_token
from services.runtime.kafka import DurableProducer, ProducerLimits
from services.runtime.settings import KafkaSettings
from tests.integration.helpers import (
    ServiceProcess,
    call_body,
    eventually,
    headers_of,
    read_topic,
    service_env,
    signed_headers,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def services(kafka: KafkaSettings, database_url: str, tmp_path: Path) -> AsyncIterator[dict[str, ServiceProcess]]:
    env = service_env(kafka, database_url)
    procs = {
        name: ServiceProcess(name, env, tmp_path / f"{name}.log") for name in ("ingest", "classifier", "reporting")
    }
    try:
        for proc in procs.values():
            await proc.start()
        yield procs
    finally:
        exit_codes = {name: await proc.stop() for name, proc in procs.items()}
    assert exit_codes == dict.fromkeys(procs, 0), "every service shuts down cleanly on SIGTERM"


async def post(url: str, body: bytes) -> tuple[int, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=signed_headers(body)) as r:
        return r.status, await r.json()


async def test_a_signed_call_becomes_an_interaction_record_and_is_listed(
    services: dict[str, ServiceProcess], kafka: KafkaSettings, database_url: str
) -> None:
    call_id = f"c-{uuid.uuid4()}"
    status, answer = await post(f"{services['ingest'].url}/webhooks/generic", call_body(call_id, status="missed"))
    assert status == 202, answer

    conn = await asyncpg.connect(database_url)
    try:
        row = await eventually(lambda: conn.fetchrow("SELECT * FROM interactions WHERE external_id = $1", call_id))
        assert row["auto_status"] == "missed"
        assert row["counterpart"] == "+14155550123"
    finally:
        await conn.close()

    records = await read_topic(kafka, kafka.topics(INTERACTIONS), expect=1)
    change = InteractionChanged.model_validate_json(records[0].value)
    assert change.interaction_id == str(row["id"])
    assert change.auto_status == "missed"
    assert change.suggested_outcome == "no_answer", "the classifier's suggestion travels with the record"
    assert b"+1415555" not in records[0].value, "no raw phone numbers on an analyst topic"

    # Interactions carry numbers: only an account may list them (an admin here, who sees every manager's).
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        await add_user(pool, "admin@example.com", "admin", "a long password")
        token = await issue_api_token(pool, "admin@example.com")
    finally:
        await pool.close()
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.get(f"{services['reporting'].url}/api/interactions") as r,
    ):
        assert r.status == 401
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        async with session.get(f"{services['reporting'].url}/api/interactions") as response:
            listed = await response.json()
        async with session.get(f"{services['reporting'].url}/api/interactions?limit=0") as bad:
            assert bad.status == 400
            assert (await bad.json())["errors"][0]["field"] == "limit"
    assert [item["external_id"] for item in listed["items"]] == [call_id]


async def test_duplicate_delivery_of_the_same_event_gives_one_row(
    services: dict[str, ServiceProcess], kafka: KafkaSettings, database_url: str
) -> None:
    call_id = f"c-{uuid.uuid4()}"
    body = call_body(call_id)
    for _ in range(3):
        status, _ = await post(f"{services['ingest'].url}/webhooks/generic", body)
        assert status == 202
    # And the very same record produced again to Kafka, as a producer retry would.
    calls = await read_topic(kafka, kafka.topics(CALLS), expect=3)
    producer = DurableProducer(kafka, ProducerLimits(), client_id="test-dup")
    await producer.send(kafka.topics(CALLS), calls[0].key.decode(), calls[0].value)
    await producer.stop()

    conn = await asyncpg.connect(database_url)
    try:
        await eventually(
            lambda: conn.fetchval("SELECT sum(next_offset) FROM consumer_offsets WHERE next_offset > 0"), timeout=20
        )
        await eventually(lambda: _offsets_reach(conn, 4))
        assert await conn.fetchval("SELECT count(*) FROM interactions WHERE external_id = $1", call_id) == 1
        assert await conn.fetchval("SELECT count(*) FROM interaction_events") == 1
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic LIKE '%interactions.v1'") == 1
    finally:
        await conn.close()


async def _offsets_reach(conn: asyncpg.Connection, total: int) -> bool:
    return bool(await conn.fetchval("SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets") >= total)


async def test_invalid_records_are_dead_lettered_and_valid_ones_still_flow(
    services: dict[str, ServiceProcess], kafka: KafkaSettings, database_url: str
) -> None:
    producer = DurableProducer(kafka, ProducerLimits(), client_id="test-poison")
    await producer.send(kafka.topics(CALLS), "+14155550123", b"{this is not json")
    await producer.stop()
    call_id = f"c-{uuid.uuid4()}"
    status, _ = await post(f"{services['ingest'].url}/webhooks/generic", call_body(call_id))
    assert status == 202

    dead = await read_topic(kafka, kafka.topics(DLQ), expect=1)
    letter = DeadLetter.model_validate_json(dead[0].value)
    assert letter.source_topic == kafka.topics(CALLS)
    assert letter.error_class == "ValidationError"
    assert letter.payload == "{this is not json"
    assert headers_of(dead[0])["source_offset"] == str(letter.source_offset).encode()
    conn = await asyncpg.connect(database_url)
    try:
        await eventually(lambda: conn.fetchval("SELECT 1 FROM interactions WHERE external_id = $1", call_id))
    finally:
        await conn.close()
