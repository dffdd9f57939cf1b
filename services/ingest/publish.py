"""Writes normalized events to their Kafka topic and returns once the broker acknowledged all of them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from schemas.events import CallEvent, EmailEvent
from schemas.topics import CALLS, EMAILS, Topic, TopicNames
from services.ingest.metrics import IngestMetrics
from services.runtime.kafka import DurableProducer

IngestEvent = CallEvent | EmailEvent


def topic_for(event: IngestEvent) -> Topic:
    return EMAILS if isinstance(event, EmailEvent) else CALLS


def serialize(event: IngestEvent) -> bytes:
    return event.model_dump_json(by_alias=True, exclude_none=True).encode()


class EventPublisher:
    def __init__(self, producer: DurableProducer, metrics: IngestMetrics, topics: TopicNames) -> None:
        self._producer = producer
        self._topics = topics
        self._metrics = metrics

    async def publish(self, events: Sequence[IngestEvent]) -> None:
        """All or nothing from the caller's point of view: if any send fails the caller answers "retry", and
        the provider's retry produces the same event ids, which the classifier applies once."""
        started = time.perf_counter()
        if len(events) == 1:  # the usual case: no gather, no extra tasks
            await self._send(events[0])
        else:
            results = await asyncio.gather(*(self._send(event) for event in events), return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        self._metrics.produce_latency.observe(time.perf_counter() - started)

    async def _send(self, event: IngestEvent) -> None:
        topic = self._topics(topic_for(event))
        await self._producer.send(
            topic,
            event.kafka_key(),
            serialize(event),
            headers={"schema": event.schema_.encode(), "event_id": event.event_id.encode()},
        )
        self._metrics.events.labels(topic).inc()
