"""Poison isolation on the real broker and PostgreSQL: a record PostgreSQL refuses (a key too large for its index)
is dead-lettered with its reason in headers, the worker lives on, the records after it apply, and a restart
applies nothing twice."""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path

import asyncpg
import pytest

from schemas.events import EmailAddress, EmailEvent
from schemas.topics import DLQ, EMAILS
from services.runtime.kafka import DurableProducer, ProducerLimits
from services.runtime.settings import KafkaSettings
from tests.integration.classifier_feed import applied_events, call_stream, check_exactly_once, produce, seed_managers
from tests.integration.helpers import ServiceProcess, eventually, headers_of, read_topic, service_env

pytestmark = pytest.mark.integration

MANAGER_ACTIONS = 3


async def offsets_total(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE next_offset > 0"))


@pytest.mark.timeout(240)
async def test_a_record_postgresql_refuses_is_dead_lettered_and_the_records_after_it_apply_once(
    kafka: KafkaSettings, database_url: str, tmp_path: Path
) -> None:
    stream = call_stream(120, seed=8, prefix=f"p{uuid.uuid4().hex[:6]}")
    half = len(stream.events) // 2
    after = stream.events[half:]
    # Every model refuses control characters now, so the poison is one only the database refuses: a Message-ID of
    # 990 characters passes the schema (RFC 5322 allows 998) and ingest, but in 4-byte UTF-8 it is over 2,704 bytes,
    # the largest entry of the btree index on interactions' external id.
    rng = random.Random(8)
    long_id = "<" + "".join(chr(rng.randrange(0x20000, 0x2A6D0)) for _ in range(980)) + "@client.org>"
    poison = EmailEvent(
        event_id="poison:1",
        source="smtp",
        message_id=long_id,
        direction="inbound",
        sender=EmailAddress(address="ann@client.org"),
        counterpart="ann@client.org",
        our_address="sales@example.com",
        received_at=after[0].occurred_at,
    )
    await seed_managers(kafka)
    await produce(kafka, stream.events[:half])
    producer = DurableProducer(kafka, ProducerLimits(), client_id="test-poison")
    try:
        await producer.send(kafka.topics(EMAILS), poison.kafka_key(), poison.model_dump_json(by_alias=True).encode())
    finally:
        await producer.stop()
    await produce(kafka, after)
    produced = len(stream.events) + MANAGER_ACTIONS + 1

    conn = await asyncpg.connect(database_url)
    worker = ServiceProcess("classifier", service_env(kafka, database_url), tmp_path / "worker.log")
    try:
        await worker.start()
        await eventually(lambda: _drained(conn, produced), timeout=90, interval=0.3)
        await check_exactly_once(conn, stream)
        assert worker.proc is not None and worker.proc.poll() is None, "the worker lives on"
        assert "classifier.poison_record" in worker.logs()

        letters = await read_topic(kafka, kafka.topics(DLQ), expect=1)
        assert len(letters) == 1
        headers = headers_of(letters[0])
        assert headers["error_class"] == b"ProgramLimitExceededError"
        assert headers["source_topic"] == kafka.topics(EMAILS).encode()
        assert letters[0].key is not None and letters[0].key.decode().startswith(f"{kafka.topics(EMAILS)}:")
        applied = await applied_events(conn)
    finally:
        assert await worker.stop() == 0
    try:
        restarted = ServiceProcess("classifier", service_env(kafka, database_url), tmp_path / "restarted.log")
        await restarted.start()
        try:
            await eventually(lambda: _partitions_assigned(restarted), timeout=60, interval=0.3)
            await asyncio.sleep(2)  # a worker that re-read the log would have applied it by now
            await check_exactly_once(conn, stream)
            assert await applied_events(conn) == applied
            assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = $1", kafka.topics(DLQ)) == 1
            assert "classifier.poison_record" not in restarted.logs()
        finally:
            assert await restarted.stop() == 0
    finally:
        await conn.close()


async def _drained(conn: asyncpg.Connection, produced: int) -> bool:
    return await offsets_total(conn) >= produced


async def _partitions_assigned(worker: ServiceProcess) -> bool:
    return "classifier.partitions_assigned" in worker.logs()
