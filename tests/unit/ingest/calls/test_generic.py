from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.ingest.calls.generic import GenericCallPayload, generic_event_id, normalize_generic

RECEIVED = datetime(2026, 11, 26, 10, 0, 5, tzinfo=UTC)


def payload(**overrides: object) -> GenericCallPayload:
    body: dict[str, object] = {
        "call_id": "c-1",
        "event": "ended",
        "occurred_at": "2026-11-26T10:00:00Z",
        "direction": "inbound",
        "from": "+14155550123",
        "to": "+14155550100",
        "status": "missed",
    }
    body.update(overrides)
    return GenericCallPayload.model_validate(body)


def test_inbound_counterpart_is_the_caller() -> None:
    event = normalize_generic(payload(), RECEIVED, "US")
    assert event.counterpart is not None and event.counterpart.e164 == "+14155550123"
    assert event.our_number is not None and event.our_number.e164 == "+14155550100"
    assert event.kafka_key() == "+14155550123"
    assert event.status == "missed"
    assert event.ended_at == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def test_outbound_counterpart_is_the_callee_and_extension_is_the_agent() -> None:
    event = normalize_generic(payload(direction="outbound", **{"from": "101"}, to="+14155550123"), RECEIVED, "US")
    assert event.counterpart is not None and event.counterpart.e164 == "+14155550123"
    assert event.agent == "101"


def test_internal_calls_have_no_counterpart_and_are_keyed_by_call() -> None:
    event = normalize_generic(payload(direction="internal", **{"from": "101"}, to="102"), RECEIVED, "US")
    assert event.counterpart is None
    assert event.kafka_key() == "call:generic:c-1"


def test_event_id_is_deterministic_and_distinguishes_events() -> None:
    assert generic_event_id(payload()) == generic_event_id(payload())
    assert generic_event_id(payload()) != generic_event_id(payload(event="ringing"))
    assert generic_event_id(payload(id="evt-7")) == "generic:evt-7"


def test_the_same_instant_in_another_offset_is_the_same_event() -> None:
    assert generic_event_id(payload(occurred_at="2026-11-26T13:00:00+03:00")) == generic_event_id(payload())


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"occurred_at": "2026-11-26T10:00:00"}, "occurred_at"),
        ({"occurred_at": "9999-12-31T23:00:00-05:00"}, "occurred_at"),
        ({"occurred_at": "0001-01-01T00:30:00+01:00"}, "occurred_at"),
        ({"event": "exploded"}, "event"),
        ({"duration_s": -1}, "duration_s"),
        ({"unexpected": 1}, "unexpected"),
        ({"call_id": ""}, "call_id"),
    ],
)
def test_invalid_payloads_name_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        payload(**overrides)
    assert field in {str(e["loc"][0]) for e in info.value.errors()}
