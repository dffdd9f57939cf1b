"""Mango Office: the sign agrees with python-mango-office-api's, is checked over the json text as received,
and the three notification kinds normalize as documented."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import mangoapi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ingest.calls.mango import (
    MangoCall,
    MangoRecording,
    MangoSignatureError,
    MangoSummary,
    mango_sign,
    normalize_call,
    normalize_recording,
    normalize_summary,
    verify_mango,
)
from services.ingest.calls.parties import call_context

KEY, SALT = "vpbx-key", "vpbx-salt"
RECEIVED = datetime(2026, 11, 26, 10, 5, tzinfo=UTC)
CTX = call_context("RU", "Europe/Moscow", ("+74951234567",))


@given(st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=5))
def test_sign_agrees_with_the_mango_client(data: dict[str, str]) -> None:
    client = mangoapi.MangoAPI("http://127.0.0.1/", KEY, SALT)
    text = mangoapi.stringify(data)
    assert mango_sign(KEY, text, SALT) == mangoapi.hash(text, client)


def form(json_text: str, key: str = KEY, sign: str | None = None) -> dict[str, str]:
    return {"vpbx_api_key": key, "sign": sign or mango_sign(key, json_text, SALT), "json": json_text}


def test_the_json_text_is_verified_exactly_as_received() -> None:
    compact = '{"entry_id":"E1","seq":1}'
    assert verify_mango(KEY, SALT, form(compact)) == compact
    spaced = json.dumps(json.loads(compact))  # same data, other spacing: not what was signed
    with pytest.raises(MangoSignatureError) as refused:
        verify_mango(KEY, SALT, {**form(compact), "json": spaced})
    assert refused.value.field == "sign"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"vpbx_api_key": "someone-else"}, "vpbx_api_key"),
        ({"sign": "0" * 64}, "sign"),
    ],
)
def test_a_foreign_key_or_a_wrong_sign_is_refused(fields: dict[str, str], field: str) -> None:
    signed = {**form("{}"), **fields}
    with pytest.raises(MangoSignatureError) as refused:
        verify_mango(KEY, SALT, signed)
    assert refused.value.field == field


@pytest.mark.parametrize("missing", ["vpbx_api_key", "sign", "json"])
def test_missing_fields_are_named(missing: str) -> None:
    signed = form("{}")
    del signed[missing]
    with pytest.raises(MangoSignatureError) as refused:
        verify_mango(KEY, SALT, signed)
    assert refused.value.field == missing


def call(state: str, location: str = "abonent", seq: int = 1, **extra: Any) -> MangoCall:
    return MangoCall.model_validate(
        {
            "entry_id": "MjQ1NTc0MTg0NDg6MTAx",
            "call_id": "MToxMDE6Mzc2OjA=",
            "timestamp": 1795687200,
            "seq": seq,
            "call_state": state,
            "location": location,
            "from": {"number": "79161234567"},
            "to": {"extension": "101", "number": "sip:101@vpbx.mangosip.ru", "line_number": "74951234567"},
            **extra,
        }
    )


@pytest.mark.parametrize(
    ("state", "location", "phase"),
    [
        ("Appeared", "ivr", "initiated"),
        ("Appeared", "abonent", "ringing"),
        ("Connected", "ivr", "ringing"),
        ("Connected", "abonent", "answered"),
        ("OnHold", "abonent", "answered"),
        ("Disconnected", "abonent", "ended"),
    ],
)
def test_call_states_map_to_phases(state: str, location: str, phase: str) -> None:
    event = normalize_call(call(state, location, disconnect_reason=1110), RECEIVED, CTX)
    assert event.phase == phase
    assert event.status is None  # per-leg events leave the status to the summary
    assert event.call_id == "MjQ1NTc0MTg0NDg6MTAx"
    assert event.leg_id == "MToxMDE6Mzc2OjA="
    assert event.direction == "inbound"
    assert event.counterpart is not None and event.counterpart.e164 == "+79161234567"
    assert event.our_number is not None and event.our_number.e164 == "+74951234567"
    assert event.agent == "101"
    assert event.occurred_at == datetime.fromtimestamp(1795687200, UTC)


def test_each_call_event_has_its_own_stable_id() -> None:
    ids = {normalize_call(call(s, seq=i), RECEIVED, CTX).event_id for i, s in enumerate(["Appeared", "Connected"])}
    assert len(ids) == 2
    assert (
        normalize_call(call("Appeared"), RECEIVED, CTX).event_id
        == normalize_call(call("Appeared"), RECEIVED, CTX).event_id
    )


def summary(**overrides: Any) -> MangoSummary:
    body: dict[str, Any] = {
        "entry_id": "MjQ1NTc0MTg0NDg6MTAx",
        "call_direction": 1,
        "from": {"number": "79161234567"},
        "to": {"extension": "101", "number": "74951234567"},
        "line_number": "74951234567",
        "create_time": 1704103200,
        "forward_time": 1704103202,
        "talk_time": 1704103207,
        "end_time": 1704103267,
        "entry_result": 1,
        "disconnect_reason": 1110,
    }
    body.update(overrides)
    return MangoSummary.model_validate(body)


def test_answered_summary_has_durations_and_times() -> None:
    event = normalize_summary(summary(), RECEIVED, CTX)
    assert (event.phase, event.status, event.direction) == ("ended", "answered", "inbound")
    assert event.duration_s == 67 and event.talk_s == 60
    assert event.answered_at == datetime.fromtimestamp(1704103207, UTC)
    assert event.counterpart is not None and event.counterpart.e164 == "+79161234567"
    assert event.agent == "101"


def test_unanswered_summary_is_missed() -> None:
    event = normalize_summary(summary(talk_time=0, entry_result=0), RECEIVED, CTX)
    assert event.status == "missed" and event.talk_s == 0 and event.answered_at is None


def test_outbound_summary_counterpart_is_the_callee() -> None:
    event = normalize_summary(
        summary(
            call_direction=2, **{"from": {"extension": "101", "number": "74951234567"}}, to={"number": "79169998877"}
        ),
        RECEIVED,
        CTX,
    )
    assert event.direction == "outbound"
    assert event.counterpart is not None and event.counterpart.e164 == "+79169998877"
    assert event.agent == "101"


def test_recording_is_referenced_by_its_id() -> None:
    recording = MangoRecording.model_validate(
        {
            "recording_id": "MToxMDE2",
            "recording_state": "Completed",
            "entry_id": "E1",
            "call_id": "C1",
            "extension": "101",
            "timestamp": 1704103270,
        }
    )
    event = normalize_recording(recording, RECEIVED)
    assert event.phase == "recording"
    assert event.recording_ref == "mango:recording:MToxMDE2"
    assert event.call_id == "E1" and event.agent == "101"
