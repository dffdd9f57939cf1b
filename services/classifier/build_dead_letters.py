"""Dead letters (pure): for records that cannot be decoded or that PostgreSQL refuses (keyed `<topic>:<partition>:
<offset>`, never by a phone number or address) and for actions the domain refuses (keyed the same way)."""

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


def poison_record(record: ConsumedRecord, exc: BaseException, now: datetime) -> DeadLetter:
    """A valid record the database refuses for a reason retrying cannot fix (NUL in text, a value too long, a
    constraint): its letter goes through the outbox, whose jsonb refuses NUL too, so NUL becomes U+FFFD here (the
    original stays in the source topic at the offset the letter names)."""
    raw = record.raw if record.raw is not None else record.event.model_dump_json(by_alias=True).encode()
    payload = raw[:65536].decode("utf-8", errors="replace")
    reason = f"{type(exc).__name__}: {exc}"
    return _letter(
        record.topic, record.partition, record.offset, _no_nul(reason), type(exc).__name__, _no_nul(payload), now
    )


def dead_letter_headers(letter: DeadLetter) -> dict[str, str]:
    """Why and whence, for operators who read the dead-letter topic without parsing its values."""
    return {
        "reason": letter.reason[:500],
        "error_class": letter.error_class,
        "source_topic": letter.source_topic,
        "source_partition": str(letter.source_partition),
        "source_offset": str(letter.source_offset),
    }


def _no_nul(text: str) -> str:
    # PostgreSQL's text and jsonb cannot hold the character NUL (a JSON escape of it in the text is only text).
    return text.replace("\x00", "\ufffd")


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
