"""FreeSWITCH: the three mod_json_cdr encodings carry the same CDR; A and B legs correlate to one call;
hangup causes and answer/bridge facts map to the automatic status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.classifier.correlate import fold_call
from services.ingest.calls.freeswitch import (
    BASE64_TYPE,
    FORM_TYPE,
    BodyError,
    CdrError,
    JsonCdr,
    cdr_json,
    normalize_freeswitch,
)
from services.ingest.calls.parties import call_context
from services.ingest.http.forms import decode_form
from tests.fixtures.freeswitch_cdr import A_UUID, B_UUID, START, as_base64, as_json, as_urlencoded, cdr

RECEIVED = datetime(2026, 11, 26, 10, 5, tzinfo=UTC)
CTX = call_context("US", "UTC", ("+14155550100",))


def parse(record: dict[str, Any]) -> JsonCdr:
    return JsonCdr.model_validate_json(as_json(record))


def test_every_encoding_yields_the_same_json() -> None:
    # A CDR whose base64 form holds a '+' (which a form decoder would turn into a space).
    record = next(r for n in range(3) if b"+" in as_base64(r := {**cdr(), "note": " " * n + ">>>"}))
    raw = as_json(record)
    assert cdr_json("application/json", raw, None) == raw
    urlencoded = as_urlencoded(record)
    assert cdr_json(FORM_TYPE, urlencoded, decode_form(urlencoded).get("cdr")) == raw
    b64 = as_base64(record)
    assert b"+" in b64
    assert cdr_json(BASE64_TYPE, b64, None) == raw


@pytest.mark.parametrize(
    ("content_type", "body", "form_value"),
    [(FORM_TYPE, b"x=1", None), (BASE64_TYPE, b"json=abc", None), (BASE64_TYPE, b"cdr=***", None)],
)
def test_bodies_that_are_not_mod_json_cdr_are_named(content_type: str, body: bytes, form_value: str | None) -> None:
    with pytest.raises(BodyError) as refused:
        cdr_json(content_type, body, form_value)
    assert refused.value.field == "cdr"


def test_a_and_b_legs_are_one_call() -> None:
    a_leg = normalize_freeswitch(parse(cdr(A_UUID)), RECEIVED, CTX)
    b_leg = normalize_freeswitch(parse(cdr(B_UUID, b_leg_of=A_UUID)), RECEIVED, CTX)
    assert a_leg.call_id == b_leg.call_id == A_UUID
    assert (a_leg.leg_id, b_leg.leg_id, b_leg.parent_leg_id) == (A_UUID, B_UUID, A_UUID)
    assert a_leg.event_id != b_leg.event_id
    assert a_leg.kafka_key() == b_leg.kafka_key() == "+14155550123"
    for leg in (a_leg, b_leg):
        assert (leg.direction, leg.status, leg.agent) == ("inbound", "answered", "101")
        assert leg.started_at == datetime.fromtimestamp(START, UTC)
        assert leg.answered_at == datetime.fromtimestamp(START + 5, UTC)
        assert (leg.duration_s, leg.talk_s) == (65, 60)


def test_b_leg_found_through_the_originator_profile_alone() -> None:
    record = cdr(B_UUID, b_leg_of=A_UUID)
    del record["variables"]["originating_leg_uuid"]
    assert normalize_freeswitch(parse(record), RECEIVED, CTX).call_id == A_UUID


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({}, "answered"),
        ({"bridged": False, "last_app": "voicemail"}, "voicemail"),
        ({"bridged": False, "last_app": "playback"}, "abandoned"),
        ({"answered": False, "hangup_cause": "USER_BUSY"}, "busy"),
        ({"answered": False, "hangup_cause": "ORIGINATOR_CANCEL"}, "abandoned"),
        ({"answered": False, "hangup_cause": "NO_ANSWER"}, "missed"),
        ({"answered": False, "hangup_cause": "UNALLOCATED_NUMBER"}, "failed"),
    ],
)
def test_status_mapping(kwargs: dict[str, Any], status: str) -> None:
    event = normalize_freeswitch(parse(cdr(**kwargs)), RECEIVED, CTX)
    assert event.status == status
    assert event.phase == "ended"


def test_unanswered_b_leg_and_ivr_answered_a_leg_fold_to_a_missed_call() -> None:
    a_leg = normalize_freeswitch(parse(cdr(bridged=False, last_app="playback")), RECEIVED, CTX)
    b_leg = normalize_freeswitch(
        parse(cdr(B_UUID, b_leg_of=A_UUID, answered=False, hangup_cause="NO_ANSWER")), RECEIVED, CTX
    )
    assert fold_call([a_leg, b_leg]).auto_status in ("abandoned", "missed")
    assert fold_call([a_leg, b_leg]).answered_at is None


def test_outbound_from_an_extension() -> None:
    event = normalize_freeswitch(parse(cdr(caller="101", destination="4155550123")), RECEIVED, CTX)
    assert event.direction == "outbound"
    assert event.counterpart is not None and event.counterpart.e164 == "+14155550123"
    assert event.agent == "101"


def test_internal_call_between_extensions_is_keyed_by_call() -> None:
    event = normalize_freeswitch(parse(cdr(caller="102", destination="101")), RECEIVED, CTX)
    assert event.direction == "internal" and event.counterpart is None
    assert event.kafka_key() == f"call:freeswitch:{A_UUID}"


def test_url_encoded_values_are_decoded_and_recording_kept() -> None:
    record = cdr(extra={"record_file_name": "/var/lib/freeswitch/recordings/2026 11 26/a.wav"})
    event = normalize_freeswitch(parse(record), RECEIVED, CTX)
    assert event.recording_ref == "/var/lib/freeswitch/recordings/2026 11 26/a.wav"


def test_a_cdr_without_a_leg_uuid_is_refused_naming_it() -> None:
    record = cdr()
    del record["variables"]["uuid"]
    with pytest.raises(CdrError) as refused:
        normalize_freeswitch(parse(record), RECEIVED, CTX)
    assert refused.value.field == "variables.uuid"
