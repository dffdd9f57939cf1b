"""The classifier's latency at a steady rate: what reaches the broker while a batch is being applied is all in the
next batch, not an early handful now and the rest a cycle later (aiokafka does not fetch a partition again while
records of it wait in its buffer)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

import asyncpg
import pytest

from schemas.events import CallEvent
from schemas.topics import CALLS
from services.classifier.consume import Pipeline, PipelineLimits, SeekToStored
from services.classifier.decode import ConsumedRecord
from services.classifier.failpoints import Failpoints
from services.classifier.fence_offsets import OffsetRange
from services.classifier.store import BatchResult, Store
from services.ingest.publish import serialize
from services.runtime.kafka import DurableProducer, ProducerLimits, build_consumer
from services.runtime.postgres import create_pool
from services.runtime.settings import DatabaseSettings, KafkaSettings
from tests.integration.helpers import eventually
from tests.unit.classifier.factories import POLICY, answered, missed

pytestmark = pytest.mark.integration


class BatchSizes(Store):
    """The real store, noting the size of each batch it is given."""

    sizes: list[int]

    async def apply_batch(
        self,
        records: Sequence[ConsumedRecord],
        ranges: Mapping[tuple[str, int], OffsetRange],
        before_commit: Callable[[], None] = lambda: None,
    ) -> BatchResult:
        self.sizes.append(len(records))
        return await super().apply_batch(records, ranges, before_commit)


async def test_records_that_arrive_during_an_apply_are_the_next_batch(kafka: KafkaSettings, database_url: str) -> None:
    group = f"{kafka.topic_namespace}-classifier"
    pool = await create_pool(DatabaseSettings(DATABASE_URL=database_url))
    store = BatchSizes(pool, group, kafka.topics, POLICY)
    store.sizes = []
    producer = DurableProducer(kafka, ProducerLimits(), client_id="t-fetch-producer")
    await producer.start()
    consumer = build_consumer(kafka, group, "t-fetch-classifier")
    consumer.subscribe([kafka.topics(CALLS)], listener=SeekToStored(consumer, store))
    await consumer.start()
    pipeline = Pipeline(consumer, store, producer, PipelineLimits(), Failpoints(""), kafka.topics)
    stop = asyncio.Event()
    running = asyncio.create_task(pipeline.run(stop))
    # One caller, so one partition: the case where an early handful held in aiokafka's buffer keeps the rest of
    # that partition on the broker.
    events = missed("first") + answered("second") + answered("third") + answered("fourth")
    topic = kafka.topics(CALLS)

    async def send(wave: Sequence[CallEvent]) -> None:
        for event in wave:
            await producer.send(topic, event.kafka_key(), serialize(event))

    async def applied(count: int) -> bool:
        return pipeline.applied_total == count

    async def batches(count: int) -> bool:
        return len(store.sizes) == count

    blocker = await asyncpg.connect(database_url)
    try:
        await send(events[:1])
        await eventually(lambda: applied(1), timeout=60)
        # The next batch's transaction waits for this lock: an apply that takes as long as the test wants.
        locked = blocker.transaction()
        await locked.start()
        await blocker.execute("LOCK TABLE consumer_offsets IN ACCESS EXCLUSIVE MODE")
        await send(events[1:2])
        await eventually(lambda: batches(2))
        await asyncio.sleep(0.3)
        await send(events[2:7])  # early in the apply
        await asyncio.sleep(0.5)
        await send(events[7:])  # later in the same apply
        await asyncio.sleep(0.5)
        await locked.rollback()
        await eventually(lambda: applied(len(events)))
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
        await consumer.stop()
        await producer.stop()
        await blocker.close()
        await pool.close()
    assert store.sizes == [1, 1, len(events) - 2]
