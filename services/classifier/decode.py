"""Decoding consumed records (pure): bytes to a validated event or action, or the reason it can never be applied."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from schemas.actions import Action
from schemas.events import CallEvent, EmailEvent
from schemas.topics import ACTIONS, CALLS, EMAILS, RECORD_MODELS, Topic
from services.runtime.errors import InvalidRecord

Consumed = CallEvent | EmailEvent | Action

_ADAPTERS: dict[Topic, TypeAdapter[Any]] = {
    topic: model if isinstance(model, TypeAdapter) else TypeAdapter(model)
    for topic, model in RECORD_MODELS.items()
    if topic in (CALLS, EMAILS, ACTIONS)
}


@dataclass(frozen=True, slots=True)
class ConsumedRecord:
    topic: str
    partition: int
    offset: int
    event: Consumed
    raw: bytes | None = None
    """The record's value as consumed: stored as the event's payload without serializing it again."""


def decode(topic: Topic | None, value: bytes | None) -> Consumed:
    if value is None:
        raise InvalidRecord("record has no value (tombstone)", "EmptyRecord")
    adapter = _ADAPTERS.get(topic) if topic is not None else None
    if adapter is None:
        name = topic.name if topic else "(not in the catalogue)"
        raise InvalidRecord(f"no decoder for topic {name}", "UnknownTopic")
    try:
        event: Consumed = adapter.validate_json(value)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[:3]
        reason = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in first)
        raise InvalidRecord(reason, "ValidationError") from exc
    return event
