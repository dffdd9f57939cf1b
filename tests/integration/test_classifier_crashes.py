"""Exactly-once effects under crashes: the classifier killed with SIGKILL at the worst moments, restarted."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import asyncpg
import pytest

from schemas.topics import CALLS, INTERACTIONS
from services.ingest.calls.generic import GenericCallPayload, normalize_generic
from services.runtime.kafka import DurableProducer, ProducerLimits
from services.runtime.settings import KafkaSettings
from tests.integration.helpers import ServiceProcess, call_body, eventually, read_topic, service_env

pytestmark = pytest.mark.integration


async def produce_calls(kafka: KafkaSettings, call_ids: list[str]) -> None:
    from datetime import UTC, datetime

    producer = DurableProducer(kafka, ProducerLimits(), client_id="test-crash")
    try:
        for call_id in call_ids:
            event = normalize_generic(
                GenericCallPayload.model_validate_json(call_body(call_id)), datetime.now(UTC), "US"
            )
            await producer.send(kafka.topics(CALLS), event.kafka_key(), event.model_dump_json(by_alias=True).encode())
    finally:
        await producer.stop()


@pytest.mark.parametrize("failpoint", ["after_db_commit", "before_db_commit"])
async def test_killed_around_the_db_commit_then_restarted_gives_no_duplicate_and_no_loss(
    kafka: KafkaSettings, database_url: str, tmp_path: Path, failpoint: str
) -> None:
    call_ids = [f"c-{uuid.uuid4()}" for _ in range(20)]
    await produce_calls(kafka, call_ids)

    env = service_env(kafka, database_url, TOUCHPOINT_CLASSIFIER_FAILPOINTS=failpoint)
    doomed = ServiceProcess("classifier", env, tmp_path / "doomed.log")
    await doomed.start(wait_ready=False)
    assert await doomed.wait_exit(60) == -signal.SIGKILL, doomed.logs()[-2000:]

    conn = await asyncpg.connect(database_url)
    try:
        applied_before = await conn.fetchval("SELECT count(*) FROM interaction_events")
        assert applied_before == (20 if failpoint == "after_db_commit" else 0)

        survivor = ServiceProcess("classifier", service_env(kafka, database_url), tmp_path / "survivor.log")
        await survivor.start()
        try:
            await eventually(lambda: conn.fetchval("SELECT count(*) = 20 FROM interactions WHERE phase IS NOT NULL"))
            records = await read_topic(kafka, kafka.topics(INTERACTIONS), expect=20)
        finally:
            await survivor.stop()
        assert await conn.fetchval("SELECT count(*) FROM interaction_events") == 20
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic LIKE '%interactions.v1'") == 20
        assert await conn.fetchval("SELECT max(version) FROM interactions") == 1
        assert len(records) == 20
        assert sorted(await conn.fetchval("SELECT array_agg(external_id) FROM interactions")) == sorted(call_ids)
        if failpoint == "after_db_commit":
            # The restarted worker resumed from the offsets stored with the effects: it did not even re-read
            # the batch (the Kafka offset commit never happened, so Kafka alone would have replayed it).
            assert "classifier.batch" not in survivor.logs()
    finally:
        await conn.close()
