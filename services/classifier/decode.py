"""Decoding consumed records (pure): bytes to a validated event or action, or the reason it can never be applied."""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from schemas.actions import ACTION_ADAPTER, Action
from schemas.events import CallEvent, EmailEvent
from schemas.topics import ACTIONS, CALLS, EMAILS, Topic
from services.runtime.errors import InvalidRecord

_CALL = TypeAdapter(CallEvent)
_EMAIL = TypeAdapter(EmailEvent)

Consumed = CallEvent | EmailEvent | Action


def decode(topic: Topic | None, value: bytes | None) -> Consumed:
    if value is None:
        raise InvalidRecord("record has no value (tombstone)", "EmptyRecord")
    try:
        if topic == CALLS:
            return _CALL.validate_json(value)
        if topic == EMAILS:
            return _EMAIL.validate_json(value)
        if topic == ACTIONS:
            return ACTION_ADAPTER.validate_json(value)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[:3]
        reason = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in first)
        raise InvalidRecord(reason, "ValidationError") from exc
    raise InvalidRecord(f"no decoder for topic {topic.name if topic else '(not in the catalogue)'}", "UnknownTopic")
