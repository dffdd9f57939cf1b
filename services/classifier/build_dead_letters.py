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
    return DeadLetter(
        event_id=f"{record.topic}:{record.partition}:{record.offset}",
        source_topic=record.topic,
        source_partition=record.partition,
        source_offset=record.offset,
        reason=exc.reason,
        error_class=exc.error_class,
        payload=payload,
        first_seen_at=now,
    )


def refused_action(record: ConsumedRecord, action: Action, reason: str, now: datetime) -> DeadLetter:
    return DeadLetter(
        event_id=f"{record.topic}:{record.partition}:{record.offset}",
        source_topic=record.topic,
        source_partition=record.partition,
        source_offset=record.offset,
        reason=reason,
        error_class="Rejected",
        payload=action.model_dump_json(by_alias=True),
        first_seen_at=now,
    )
