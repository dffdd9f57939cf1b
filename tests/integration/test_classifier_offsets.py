"""Stored offsets reconciled with the log on the real broker and PostgreSQL: below the log start (records deleted
as retention would) and above the log end (the topic recreated) each record a gap and resume at the log start;
the operator's `offsets skip` moves a partition forward on purpose, audited."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from schemas.events import CallEvent
from schemas.topics import CALLS
from services.runtime.kafka import DurableProducer, ProducerLimits, ensure_topics
from services.runtime.settings import KafkaSettings
from tests.integration.classifier_feed import call_stream
from tests.integration.helpers import REPO, ServiceProcess, eventually, service_env

pytestmark = pytest.mark.integration


async def _produce_to_partition_0(kafka: KafkaSettings, events: list[CallEvent]) -> None:
    producer = DurableProducer(kafka, ProducerLimits(), client_id="test-offsets")
    try:
        for e in events:  # one by one: offset i holds events[i]
            await producer.send(kafka.topics(CALLS), e.kafka_key(), e.model_dump_json(by_alias=True).encode(), None, 0)
    finally:
        await producer.stop()


async def _stored(conn: asyncpg.Connection, kafka: KafkaSettings) -> int | None:
    value = await conn.fetchval(
        "SELECT next_offset FROM consumer_offsets WHERE topic = $1 AND partition = 0", kafka.topics(CALLS)
    )
    return None if value is None else int(value)


async def _applied_ids(conn: asyncpg.Connection) -> set[str]:
    return {r["event_id"] for r in await conn.fetch("SELECT event_id FROM interaction_events")}


async def _gaps(conn: asyncpg.Connection) -> list[tuple[int, int, str]]:
    rows = await conn.fetch("SELECT from_offset, to_offset, reason FROM offset_gaps ORDER BY id")
    return [(r["from_offset"], r["to_offset"], r["reason"]) for r in rows]


def _worker(kafka: KafkaSettings, database_url: str, log: Path) -> ServiceProcess:
    return ServiceProcess("classifier", service_env(kafka, database_url), log)


@pytest.mark.timeout(180)
async def test_a_stored_offset_below_the_log_start_is_a_recorded_gap_and_the_rest_applies(
    kafka: KafkaSettings, database_url: str, tmp_path: Path
) -> None:
    events = call_stream(4, seed=1, prefix=f"o{uuid.uuid4().hex[:6]}").events
    assert len(events) > 8
    await _produce_to_partition_0(kafka, events)
    topic = kafka.topics(CALLS)
    worker = _worker(kafka, database_url, tmp_path / "worker.log")
    conn = await asyncpg.connect(database_url)
    try:
        # The classifier applied offsets 0 and 1, then was down while retention deleted everything before 6.
        await conn.execute(
            "INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES ($1, $2, 0, 2)",
            worker.env["TOUCHPOINT_CLASSIFIER_GROUP_ID"],
            topic,
        )
        admin = AIOKafkaAdminClient(**kafka.client_kwargs())
        await admin.start()
        try:
            await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(before_offset=6)})
        finally:
            await admin.close()
        await worker.start()

        async def done() -> bool:
            return await _stored(conn, kafka) == len(events)

        await eventually(done, timeout=60, interval=0.3)
        assert await _gaps(conn) == [(2, 6, "below_log_start")]
        assert await _applied_ids(conn) == {e.event_id for e in events[6:]}
        assert "classifier.offset_gap" in worker.logs()
        async with aiohttp.ClientSession() as http, http.get(f"{worker.url}/metrics") as response:
            assert "touchpoint_classifier_offset_gaps 1.0" in await response.text()
    finally:
        await worker.stop()
        await conn.close()


@pytest.mark.timeout(240)
async def test_a_stored_offset_above_the_log_end_of_a_recreated_topic_is_a_recorded_gap_and_the_new_log_applies(
    kafka: KafkaSettings, database_url: str, tmp_path: Path
) -> None:
    old = call_stream(4, seed=2, prefix=f"a{uuid.uuid4().hex[:6]}").events
    new = call_stream(1, seed=3, prefix=f"b{uuid.uuid4().hex[:6]}").events
    assert len(new) < len(old)
    await _produce_to_partition_0(kafka, old)
    topic = kafka.topics(CALLS)
    conn = await asyncpg.connect(database_url)
    try:
        first = _worker(kafka, database_url, tmp_path / "first.log")
        await first.start()
        try:

            async def old_done() -> bool:
                return await _stored(conn, kafka) == len(old)

            await eventually(old_done, timeout=60, interval=0.3)
        finally:
            assert await first.stop() == 0

        admin = AIOKafkaAdminClient(**kafka.client_kwargs())
        await admin.start()
        try:
            await admin.delete_topics([topic])

            async def gone() -> bool:
                return topic not in await admin.list_topics()

            await eventually(gone, timeout=30, interval=0.3)
        finally:
            await admin.close()
        await ensure_topics(kafka, [CALLS])
        await _produce_to_partition_0(kafka, new)

        second = _worker(kafka, database_url, tmp_path / "second.log")
        await second.start()
        try:

            async def new_done() -> bool:
                return {e.event_id for e in new} <= await _applied_ids(conn)

            await eventually(new_done, timeout=60, interval=0.3)
            assert await _gaps(conn) == [(len(new), len(old), "above_log_end")]
            assert "classifier.offset_gap" in second.logs()
        finally:
            assert await second.stop() == 0
    finally:
        await conn.close()


@pytest.mark.timeout(180)
async def test_the_operator_skips_a_range_on_purpose_and_it_is_audited(
    kafka: KafkaSettings, database_url: str, tmp_path: Path
) -> None:
    events = call_stream(4, seed=4, prefix=f"s{uuid.uuid4().hex[:6]}").events
    await _produce_to_partition_0(kafka, events)
    topic = kafka.topics(CALLS)
    worker = _worker(kafka, database_url, tmp_path / "worker.log")

    async def skip(to: int) -> int:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.classifier",
            "offsets",
            "skip",
            f"--topic={topic}",
            "--partition=0",
            f"--to={to}",
            "--note=bad deploy of the feed",
            env=worker.env,
            cwd=REPO,
        )
        return await proc.wait()

    assert await skip(5) == 0
    assert await skip(3) == 2, "a skip never moves backwards"
    conn = await asyncpg.connect(database_url)
    try:
        await worker.start()

        async def done() -> bool:
            return await _stored(conn, kafka) == len(events)

        await eventually(done, timeout=60, interval=0.3)
        assert await _applied_ids(conn) == {e.event_id for e in events[5:]}
        rows = await conn.fetch("SELECT from_offset, to_offset, reason, detail FROM offset_gaps")
        assert [tuple(r) for r in rows] == [(0, 5, "operator_skip", "bad deploy of the feed")]
    finally:
        await worker.stop()
        await conn.close()
