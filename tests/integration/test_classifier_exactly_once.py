"""Exactly-once effects on the real broker and PostgreSQL, the classifier a real process: killed with SIGKILL at
random moments of a stream of a few thousand events; two workers sharing the partitions through rebalances;
PostgreSQL stopped and restarted under it. Afterwards every call has exactly one interaction in its final
state and every missed call is in exactly one callback task (tests/integration/classifier_feed.py)."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from deploy.local.postgres import LocalPostgres
from deploy.local.procs import free_port
from schemas.topics import CALLS, DLQ
from services.runtime.postgres import create_pool, migrate
from services.runtime.settings import DatabaseSettings, KafkaSettings
from tests.integration.classifier_feed import (
    applied_events,
    call_stream,
    check_exactly_once,
    produce,
    seed_managers,
)
from tests.integration.helpers import ServiceProcess, eventually, read_topic, service_env

pytestmark = pytest.mark.integration

MANAGER_ACTIONS = 3


def env(kafka: KafkaSettings, database_url: str, **extra: str) -> dict[str, str]:
    # Small batches: many transactions, so the kills land in the middle of the stream.
    return service_env(kafka, database_url, TOUCHPOINT_CLASSIFIER_MAX_BATCH="150", **extra)


async def offsets_total(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE next_offset > 0"))


async def drained(conn: asyncpg.Connection, produced: int) -> bool:
    return await offsets_total(conn) >= produced


async def progressed_past(conn: asyncpg.Connection, mark: int) -> int | None:
    n = await applied_events(conn)
    return n if n > mark else None


@pytest.mark.timeout(420)
async def test_killed_at_random_moments_then_restarted_every_effect_happens_exactly_once(
    kafka: KafkaSettings, database_url: str, tmp_path: Path
) -> None:
    stream = call_stream(1200, seed=4, prefix=f"k{uuid.uuid4().hex[:6]}")
    await seed_managers(kafka)
    await produce(kafka, stream.events)
    produced = len(stream.events) + MANAGER_ACTIONS
    assert produced > 4000
    rng = random.Random(99)
    conn = await asyncpg.connect(database_url)
    try:
        kills = 0
        for attempt in range(5):
            worker = ServiceProcess("classifier", env(kafka, database_url), tmp_path / f"worker{attempt}.log")
            before = await applied_events(conn)
            await worker.start(wait_ready=False)
            try:
                await eventually(lambda b=before: progressed_past(conn, b), timeout=60, interval=0.05)
                await asyncio.sleep(rng.uniform(0.0, 0.4))
                mid_stream = not await drained(conn, produced)
            finally:
                await worker.stop(signal.SIGKILL)
            if not mid_stream:
                break
            kills += 1
        assert kills >= 3, "the stream ended before the worker could be killed a few times: make it longer"

        survivor = ServiceProcess("classifier", env(kafka, database_url), tmp_path / "survivor.log")
        await survivor.start()
        try:
            await eventually(lambda: drained(conn, produced), timeout=180, interval=0.5)
        finally:
            assert await survivor.stop() == 0
        await check_exactly_once(conn, stream)
    finally:
        await conn.close()


@pytest.mark.timeout(300)
async def test_two_workers_and_rebalances_in_the_middle_of_the_stream(
    kafka: KafkaSettings, database_url: str, tmp_path: Path
) -> None:
    stream = call_stream(900, seed=5, prefix=f"r{uuid.uuid4().hex[:6]}")
    half = len(stream.events) // 2
    await seed_managers(kafka)
    await produce(kafka, stream.events[:half])
    conn = await asyncpg.connect(database_url)
    first = ServiceProcess("classifier", env(kafka, database_url), tmp_path / "first.log")
    second = ServiceProcess("classifier", env(kafka, database_url), tmp_path / "second.log")
    try:
        await first.start()
        await eventually(lambda: progressed_past(conn, 0), timeout=60, interval=0.05)
        await second.start()  # joins the group while the first is mid-stream: a rebalance
        await produce(kafka, stream.events[half:])
        await eventually(lambda: progressed_past(conn, half), timeout=60, interval=0.05)
        assert await first.stop(signal.SIGTERM) == 0  # leaves mid-stream: another rebalance
        await eventually(lambda: drained(conn, len(stream.events) + MANAGER_ACTIONS), timeout=120, interval=0.5)
        assert "classifier.partitions_assigned" in second.logs()
        await check_exactly_once(conn, stream)
    finally:
        await second.stop()
        await first.stop()
        await conn.close()


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[LocalPostgres]:
    """A server of this test's own, since the test stops it."""
    server = LocalPostgres(tmp_path / "pg", port=free_port())
    server.start()
    yield server
    server.stop("immediate")


@pytest.fixture
async def outage_database(own_postgres: LocalPostgres) -> str:
    pool = await create_pool(DatabaseSettings(DATABASE_URL=own_postgres.dsn))
    try:
        await migrate(pool)
    finally:
        await pool.close()
    return own_postgres.dsn


async def kafka_committed(kafka: KafkaSettings, group_id: str) -> int:
    """The sum of the group's offsets committed to Kafka on the calls topic (read without joining the group)."""
    consumer = AIOKafkaConsumer(group_id=group_id, enable_auto_commit=False, **kafka.client_kwargs())
    await consumer.start()
    try:
        topic = kafka.topics(CALLS)
        total = 0
        for p in range(CALLS.partitions):
            total += await consumer.committed(TopicPartition(topic, p)) or 0
        return total
    finally:
        await consumer.stop()


@pytest.mark.timeout(300)
async def test_a_postgres_outage_pauses_consumption_commits_nothing_dead_letters_nothing(
    kafka: KafkaSettings, own_postgres: LocalPostgres, outage_database: str, tmp_path: Path
) -> None:
    stream = call_stream(600, seed=6, prefix=f"o{uuid.uuid4().hex[:6]}")
    half = len(stream.events) // 2
    await produce(kafka, stream.events[:half])
    worker_env = env(kafka, outage_database, TOUCHPOINT_CLASSIFIER_RETRY_BACKOFF_MAX_S="1")
    worker = ServiceProcess("classifier", worker_env, tmp_path / "worker.log")
    group = worker_env["TOUCHPOINT_CLASSIFIER_GROUP_ID"]
    await worker.start()
    try:
        conn = await asyncpg.connect(outage_database)
        try:
            await eventually(lambda: drained(conn, half), timeout=60, interval=0.2)
        finally:
            await conn.close()
        committed_before = await eventually(lambda: _committed_at_least(kafka, group, half), timeout=30)

        own_postgres.stop("fast")
        await produce(kafka, stream.events[half:])
        await eventually(lambda: _logged_retry(worker), timeout=60)
        await asyncio.sleep(3)  # several retries while the database is down
        assert worker.proc is not None
        assert worker.proc.poll() is None, "the worker waits for the database, it does not crash"
        assert await kafka_committed(kafka, group) == committed_before, "nothing committed during the outage"
        assert await read_topic(kafka, kafka.topics(DLQ), timeout=3) == [], "nothing dead-lettered"

        own_postgres.start()
        conn = await asyncpg.connect(outage_database)
        try:
            await eventually(lambda: drained(conn, len(stream.events)), timeout=120, interval=0.5)
            await check_exactly_once(conn, stream)
        finally:
            await conn.close()
        assert await read_topic(kafka, kafka.topics(DLQ), timeout=3) == []
    finally:
        await worker.stop()


async def _committed_at_least(kafka: KafkaSettings, group: str, n: int) -> int | None:
    committed = await kafka_committed(kafka, group)
    return committed if committed >= n else None


async def _logged_retry(worker: ServiceProcess) -> bool:
    for line in worker.logs().splitlines():
        if line.startswith("{") and '"classifier.retry"' in line and json.loads(line).get("dependency") == "postgres":
            return True
    return False
