"""Decoding consumed records (pure): bytes to a validated event, or the reason it can never be applied."""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from schemas.events import CallEvent
from schemas.topics import CALLS, Topic
from services.runtime.errors import InvalidRecord

_CALL = TypeAdapter(CallEvent)


def decode(topic: Topic | None, value: bytes | None) -> CallEvent:
    if value is None:
        raise InvalidRecord("record has no value (tombstone)", "EmptyRecord")
    if topic != CALLS:
        raise InvalidRecord(f"no decoder for topic {topic.name if topic else '(not in the catalogue)'}", "UnknownTopic")
    try:
        return _CALL.validate_json(value)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[:3]
        reason = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in first)
        raise InvalidRecord(reason, "ValidationError") from exc
