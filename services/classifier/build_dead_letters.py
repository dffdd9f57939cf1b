"""Dead letters (pure): for records that cannot be decoded (keyed `<topic>:<partition>:<offset>`) and for actions
the domain refuses (keyed by the action's own key, written to the outbox with the batch)."""

from __future__ import annotations

from datetime import datetime

from aiokafka import ConsumerRecord

from schemas.actions import Action
from schemas.records import DeadLetter
from services.classifier.decode import ConsumedRecord
from services.runtime.errors import InvalidRecord


def invalid_record(record: ConsumerRecord, exc: InvalidRecord, now: datetime) -> DeadLetter:
    payload = (record.value or b"")[:65536].decode("utf-8", errors="replace")
    return _letter(record.topic, record.partition, record.offset, exc.reason, exc.error_class, payload, now)


def refused_action(record: ConsumedRecord, action: Action, reason: str, now: datetime) -> DeadLetter:
    payload = action.model_dump_json(by_alias=True)
    return _letter(record.topic, record.partition, record.offset, reason, "Rejected", payload, now)


def _letter(
    topic: str, partition: int, offset: int, reason: str, error_class: str, payload: str, now: datetime
) -> DeadLetter:
    return DeadLetter(
        event_id=f"{topic}:{partition}:{offset}",
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        reason=reason,
        error_class=error_class,
        payload=payload,
        first_seen_at=now,
    )
