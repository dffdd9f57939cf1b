"""The outbox relay on the real broker and PostgreSQL: a record the broker can never take is dead-lettered and the
rows after it are relayed; relayed rows past the retention are pruned in bounded batches; a dead relay shows in
the classifier's /readyz."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from schemas.topics import DLQ, INTERACTIONS
from services.classifier.relay_outbox import OutboxRelay, RelayLimits
from services.runtime.kafka import DurableProducer, ProducerLimits
from services.runtime.postgres import Connection, create_pool
from services.runtime.settings import DatabaseSettings, KafkaSettings
from tests.integration.helpers import ServiceProcess, eventually, headers_of, read_topic, service_env

pytestmark = pytest.mark.integration


async def _insert(conn: Connection, topic: str, key: str, payload: str, headers: str | None = None) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO outbox (topic, key, payload, headers) VALUES ($1, $2, $3::jsonb, $4::jsonb) RETURNING id",
            topic,
            key,
            payload,
            headers,
        )
    )


@pytest.mark.timeout(120)
async def test_a_record_the_broker_never_takes_is_dead_lettered_and_does_not_block_the_rows_after_it(
    kafka: KafkaSettings, database_url: str
) -> None:
    topic = kafka.topics(INTERACTIONS)
    pool = await create_pool(DatabaseSettings(DATABASE_URL=database_url))
    producer = DurableProducer(kafka, ProducerLimits(), client_id="test-relay")
    try:
        async with pool.acquire() as conn:
            first = await _insert(conn, topic, "k1", json.dumps({"n": 1}))
            # Past the broker's max.message.bytes (1 MiB by default): refused however often it is sent.
            huge = await _insert(conn, topic, "k2", json.dumps({"n": 2, "blob": "x" * 2_000_000}))
            last = await _insert(conn, topic, "k1", json.dumps({"n": 3}))
            relay = OutboxRelay(pool, producer, RelayLimits(batch=10), kafka.topics)
            sent = 0
            for _ in range(5):
                sent += await relay.publish_once(conn)
                if sent == 3:
                    break
            assert sent == 3
            assert relay.dead_lettered == 1
            rows = {r["id"]: r for r in await conn.fetch("SELECT id, published_at, failed_reason FROM outbox")}
            assert all(r["published_at"] is not None for r in rows.values())
            assert rows[first]["failed_reason"] is None and rows[last]["failed_reason"] is None
            assert "MessageSizeTooLarge" in rows[huge]["failed_reason"]
        relayed = await read_topic(kafka, topic, expect=2)
        assert [json.loads(r.value)["n"] for r in relayed] == [1, 3]
        (letter,) = await read_topic(kafka, kafka.topics(DLQ), expect=1)
        assert letter.key == f"outbox:{huge}".encode()
        assert headers_of(letter)["error_class"] == b"MessageSizeTooLargeError"
        assert headers_of(letter)["outbox_id"] == str(huge).encode()
    finally:
        await producer.stop()
        await pool.close()


@pytest.mark.timeout(60)
async def test_relayed_rows_past_the_retention_are_pruned_in_bounded_batches(
    kafka: KafkaSettings, database_url: str
) -> None:
    pool = await create_pool(DatabaseSettings(DATABASE_URL=database_url))
    producer = DurableProducer(kafka, ProducerLimits(), client_id="test-prune")
    try:
        async with pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO outbox (topic, key, payload, published_at)
                   SELECT 't', 'k', '{}'::jsonb, now() - interval '2 days' FROM generate_series(1, 25)"""
            )
            await conn.execute(
                """INSERT INTO outbox (topic, key, payload, published_at)
                   SELECT 't', 'k', '{}'::jsonb, now() - interval '1 hour' FROM generate_series(1, 4)"""
            )
            await conn.execute("INSERT INTO outbox (topic, key, payload) VALUES ('t', 'k', '{}'::jsonb)")
            relay = OutboxRelay(pool, producer, RelayLimits(retention_s=86400, prune_batch=10), kafka.topics)
            assert await relay.prune(conn) == 25
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 5, "recent and unrelayed rows stay"
            assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 1
    finally:
        await producer.stop()
        await pool.close()


@pytest.mark.timeout(120)
async def test_a_dead_relay_makes_the_classifier_unready(
    kafka: KafkaSettings, database_url: str, tmp_path: Path
) -> None:
    worker = ServiceProcess("classifier", service_env(kafka, database_url), tmp_path / "worker.log")
    await worker.start()
    conn = await asyncpg.connect(database_url)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{worker.url}/readyz") as response:
                assert response.status == 200
                assert (await response.json())["relay"] is True
            # Headers that are not an object: the relay has no answer for it and its task ends.
            await _insert(conn, kafka.topics(INTERACTIONS), "k", "{}", "[1]")

            async def unready() -> bool:
                async with http.get(f"{worker.url}/readyz") as response:
                    return response.status == 503 and (await response.json())["relay"] is False

            await eventually(unready, timeout=30, interval=0.5)
        assert "classifier.relay_died" in worker.logs()
    finally:
        await conn.close()
        await worker.stop()
