"""Twilio: our verifier agrees with the twilio SDK's RequestValidator; every CallStatus and both legs
normalize as documented; duplicates get one event id; any arrival order folds to the same call."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from schemas.events import CallEvent
from services.classifier.correlate import fold_call
from services.ingest.calls.parties import call_context
from services.ingest.calls.twilio import (
    TwilioCallback,
    TwilioSignatureError,
    compute_signature,
    normalize_twilio,
    twilio_status,
    verify_twilio,
)

RECEIVED = datetime(2026, 11, 26, 10, 0, 30, tzinfo=UTC)
CTX = call_context("US", "UTC", ("+14155550100",))
PARENT = "CA" + "1" * 32
CHILD = "CA" + "2" * 32
ACCOUNT = "AC" + "0" * 32


def test_documented_vector_matches_ours_and_the_sdk() -> None:
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    expected = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert RequestValidator("12345").compute_signature(url, params) == expected
    assert compute_signature(b"12345", url, params.items()) == expected


form_values = st.text(st.characters(codec="utf-8"), max_size=20)


@given(
    token=st.text(min_size=1, max_size=40),
    pairs=st.lists(st.tuples(st.sampled_from(["CallSid", "From", "To", "a", "B", "ü"]), form_values), max_size=8),
    path=st.sampled_from(["/webhooks/twilio", "/webhooks/twilio?x=1&y=%20", "/webhooks/twilio?rc=3"]),
    algorithm=st.sampled_from(["HMAC_SHA1", "HMAC_SHA256"]),
)
def test_signatures_agree_with_the_sdk_for_any_form(
    token: str, pairs: list[tuple[str, str]], path: str, algorithm: str
) -> None:
    url = "https://ingest.example.com" + path
    sdk = RequestValidator(token).compute_signature(url, MultiDict(pairs), algorithm)
    assert compute_signature(token.encode(), url, pairs, algorithm) == sdk
    verify_twilio(token.encode(), url, pairs, sdk, f"key=k1,algorithm={algorithm}")


def test_signature_over_the_url_with_an_explicit_default_port_is_accepted() -> None:
    pairs = [("CallSid", PARENT)]
    signed_with_port = RequestValidator("t").compute_signature("https://x.example.com:443/webhooks/twilio", dict(pairs))
    verify_twilio(b"t", "https://x.example.com/webhooks/twilio", pairs, signed_with_port)
    signed_without = RequestValidator("t").compute_signature("https://x.example.com/webhooks/twilio", dict(pairs))
    verify_twilio(b"t", "https://x.example.com:443/webhooks/twilio", pairs, signed_without)


@pytest.mark.parametrize(
    ("url", "pairs", "header"),
    [
        ("https://x.example.com/webhooks/twilio", [("CallStatus", "busy")], None),
        ("https://x.example.com/webhooks/twilio", [("CallStatus", "completed")], "sig-of-busy"),
        ("https://other.example.com/webhooks/twilio", [("CallStatus", "busy")], "sig-of-busy"),
    ],
    ids=["missing", "tampered-form", "other-url"],
)
def test_forged_requests_are_refused(url: str, pairs: list[tuple[str, str]], header: str | None) -> None:
    real = RequestValidator("t").compute_signature("https://x.example.com/webhooks/twilio", {"CallStatus": "busy"})
    with pytest.raises(TwilioSignatureError):
        verify_twilio(b"t", url, pairs, real if header else None)


def callback(status: str | None = "completed", **fields: object) -> TwilioCallback:
    values: dict[str, object] = {
        "CallSid": PARENT,
        "AccountSid": ACCOUNT,
        "Direction": "outbound-api",
        "From": "+14155550100",
        "To": "+14155550123",
        "Timestamp": "Thu, 26 Nov 2026 10:00:20 +0000",
        **fields,
    }
    if status is not None:
        values["CallStatus"] = status
    return TwilioCallback.model_validate(values)


@pytest.mark.parametrize(
    ("status", "phase", "auto"),
    [
        ("queued", "initiated", None),
        ("initiated", "initiated", None),
        ("ringing", "ringing", None),
        ("in-progress", "answered", None),
        ("completed", "ended", "answered"),
        ("busy", "ended", "busy"),
        ("failed", "ended", "failed"),
        ("no-answer", "ended", "missed"),
        ("canceled", "ended", "abandoned"),
    ],
)
def test_every_call_status_maps(status: str, phase: str, auto: str | None) -> None:
    event = normalize_twilio(callback(status, CallDuration=5 if status == "completed" else None), RECEIVED, CTX)
    assert event.phase == phase
    assert event.status == auto
    assert event.provider_status == status
    assert event.direction == "outbound"
    assert event.counterpart is not None and event.counterpart.e164 == "+14155550123"
    assert event.occurred_at == datetime(2026, 11, 26, 10, 0, 20, tzinfo=UTC)


def test_answering_machine_is_voicemail() -> None:
    assert twilio_status(callback("completed", AnsweredBy="machine_end_beep")) == "voicemail"


def test_child_leg_belongs_to_the_parent_call_and_inbound_parent_leaves_status_to_it() -> None:
    parent = normalize_twilio(
        callback("completed", Direction="inbound", From="+14155550123", To="+14155550100", CallDuration=40),
        RECEIVED,
        CTX,
    )
    child = normalize_twilio(
        callback(
            "no-answer",
            CallSid=CHILD,
            ParentCallSid=PARENT,
            Direction="outbound-dial",
            From="+14155550123",
            To="client:alice",
        ),
        RECEIVED,
        CTX,
    )
    assert parent.status is None  # Twilio answered the inbound leg itself to run TwiML
    assert child.call_id == parent.call_id == PARENT
    assert child.leg_id == CHILD and child.parent_leg_id == PARENT
    assert child.direction == "inbound"
    assert child.counterpart is not None and child.counterpart.e164 == "+14155550123"
    assert child.agent == "alice"
    assert child.status == "missed"
    assert child.kafka_key() == parent.kafka_key() == "+14155550123"
    assert fold_call([parent, child]).auto_status == "missed"


def test_duplicate_completed_callbacks_share_one_event_id() -> None:
    first = normalize_twilio(callback("completed", SequenceNumber=3, CallDuration=12), RECEIVED, CTX)
    again = normalize_twilio(callback("completed", SequenceNumber=4, CallDuration=12), RECEIVED.replace(second=59), CTX)
    assert first.event_id == again.event_id == f"twilio:{PARENT}:ended"


def test_recording_callback_references_the_recording() -> None:
    event = normalize_twilio(
        callback(
            None,
            RecordingSid="RE" + "3" * 32,
            RecordingUrl="https://api.twilio.com/rec/RE3",
            RecordingStatus="completed",
        ),
        RECEIVED,
        CTX,
    )
    assert event.phase == "recording"
    assert event.recording_ref == "https://api.twilio.com/rec/RE3"
    assert event.call_id == PARENT


def test_a_callback_without_status_or_recording_is_invalid() -> None:
    with pytest.raises(ValueError, match="CallStatus"):
        callback(None)


def _lifecycle() -> list[CallEvent]:
    return [
        normalize_twilio(callback(s, SequenceNumber=i, CallDuration=30 if s == "completed" else None), RECEIVED, CTX)
        for i, s in enumerate(["initiated", "ringing", "in-progress", "completed", "completed"])
    ]


@given(st.permutations(_lifecycle()))
def test_any_arrival_order_folds_to_one_answered_call(events: list[CallEvent]) -> None:
    state = fold_call(events)
    assert state.auto_status == "answered"
    assert state.phase == "ended"
    assert state.talk_s == 30


def test_all_orders_of_a_missed_outbound_call_agree() -> None:
    events = [normalize_twilio(callback(s), RECEIVED, CTX) for s in ["initiated", "ringing", "no-answer"]]
    states = {fold_call(list(p)) for p in itertools.permutations(events)}
    assert len(states) == 1
    assert next(iter(states)).auto_status == "missed"
