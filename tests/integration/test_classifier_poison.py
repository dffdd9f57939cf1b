"""Poison isolation on the real broker and PostgreSQL: a record PostgreSQL refuses (NUL in text) is dead-lettered
with its reason in headers, the worker lives on, the records after it apply, and a restart applies nothing twice."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from schemas.actions import UpsertManager
from schemas.topics import ACTIONS, DLQ
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
    # Ingest's event models refuse control characters, so a call with NUL is dead-lettered when it is decoded. An
    # action's free-text name still passes its model with a NUL, and PostgreSQL's text refuses it: a record only
    # the database refuses, in the middle of the calls.
    poison = UpsertManager(
        event_id="poison:1",
        actor_id="admin",
        occurred_at=after[0].occurred_at,
        manager_id="m-poison",
        name="a\x00b",
    )
    await seed_managers(kafka)
    await produce(kafka, stream.events[:half])
    producer = DurableProducer(kafka, ProducerLimits(), client_id="test-poison")
    try:
        await producer.send(kafka.topics(ACTIONS), poison.kafka_key(), poison.model_dump_json(by_alias=True).encode())
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
        assert headers["error_class"] == b"CharacterNotInRepertoireError"
        assert headers["source_topic"] == kafka.topics(ACTIONS).encode()
        assert letters[0].key is not None and letters[0].key.decode().startswith(f"{kafka.topics(ACTIONS)}:")
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
