"""Zadarma: signatures built the PHP SDK's way (base64 of the hex HMAC-SHA1 of each event's signed fields),
local call_start times read in the configured zone, dispositions and parties mapped."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ingest.calls.parties import call_context
from services.ingest.calls.zadarma import (
    MODELS,
    SIGNED_FIELDS,
    UnsupportedEvent,
    ZadarmaSignatureError,
    normalize_zadarma,
    verify_zadarma,
    zadarma_signature,
)

SECRET = b"secret"
RECEIVED = datetime(2026, 11, 26, 10, 5, tzinfo=UTC)
CTX = call_context("RU", "Europe/Moscow", ("+74951234567",))

EXAMPLES: dict[str, dict[str, str]] = {
    "NOTIFY_START": {
        "call_start": "2024-01-01 10:00:00",
        "pbx_call_id": "in_0123",
        "caller_id": "+79001234567",
        "called_did": "+74951234567",
    },
    "NOTIFY_INTERNAL": {
        "call_start": "2024-01-01 10:00:00",
        "pbx_call_id": "in_0123",
        "caller_id": "+79001234567",
        "called_did": "+74951234567",
        "internal": "100",
    },
    "NOTIFY_ANSWER": {
        "call_start": "2024-01-01 10:00:00",
        "pbx_call_id": "in_0123",
        "caller_id": "+79001234567",
        "destination": "100",
        "internal": "100",
    },
    "NOTIFY_END": {
        "call_start": "2024-01-01 10:00:00",
        "pbx_call_id": "in_0123",
        "caller_id": "+79001234567",
        "called_did": "+74951234567",
        "internal": "100",
        "duration": "60",
        "disposition": "answered",
        "status_code": "16",
        "is_recorded": "1",
        "call_id_with_rec": "1704103200.123456",
    },
    "NOTIFY_OUT_START": {
        "call_start": "2024-01-01 11:00:00",
        "pbx_call_id": "out_0456",
        "internal": "100",
        "destination": "79169998877",
    },
    "NOTIFY_OUT_END": {
        "call_start": "2024-01-01 11:00:00",
        "pbx_call_id": "out_0456",
        "internal": "100",
        "destination": "79169998877",
        "caller_id": "74951234567",
        "duration": "0",
        "disposition": "no answer",
        "status_code": "19",
        "is_recorded": "0",
        "call_id_with_rec": "",
    },
    "NOTIFY_RECORD": {"pbx_call_id": "in_0123", "call_id_with_rec": "1704103200.123456"},
}


def php_signature(secret: bytes, text: str) -> str:
    """`base64_encode(hash_hmac('sha1', $text, $secret))`: PHP's hash_hmac returns lower-case hex."""
    return base64.b64encode(hmac.new(secret, text.encode(), hashlib.sha1).hexdigest().encode()).decode()


def notification(event: str, **overrides: str) -> dict[str, str]:
    return {"event": event, **EXAMPLES[event], **overrides}


def signed(event: str, **overrides: str) -> tuple[dict[str, str], str]:
    form = notification(event, **overrides)
    return form, php_signature(SECRET, "".join(form.get(f, "") for f in SIGNED_FIELDS[event]))


def test_documented_vector() -> None:
    assert (
        zadarma_signature(b"secret", "+79001234567+749512345672024-01-01 10:00:00")
        == "MWYyODJiNTcwYTQ4ZDQxZWUyZDk0N2I4YjgwYjBjNzY5ODI4ZWFlOQ=="
    )


@pytest.mark.parametrize("event", sorted(EXAMPLES))
def test_each_event_verifies_over_its_own_fields(event: str) -> None:
    form, signature = signed(event)
    verify_zadarma(SECRET, form, signature)
    for field in SIGNED_FIELDS[event]:
        with pytest.raises(ZadarmaSignatureError):
            verify_zadarma(SECRET, {**form, field: form.get(field, "") + "9"}, signature)
    unsigned = next(
        f
        for f in ("duration", "disposition", "status_code", "internal", "is_recorded", "x")
        if f not in SIGNED_FIELDS[event]
    )
    verify_zadarma(SECRET, {**form, unsigned: "changed"}, signature)  # not covered by Zadarma's signature


def test_missing_signature_wrong_secret_and_unknown_event_are_refused() -> None:
    form, signature = signed("NOTIFY_START")
    with pytest.raises(ZadarmaSignatureError):
        verify_zadarma(SECRET, form, None)
    with pytest.raises(ZadarmaSignatureError):
        verify_zadarma(b"other", form, signature)
    with pytest.raises(UnsupportedEvent):
        verify_zadarma(SECRET, {**form, "event": "NOTIFY_IVR"}, signature)


def normalize(event: str, **overrides: str):  # type: ignore[no-untyped-def]
    form = notification(event, **overrides)
    return normalize_zadarma(MODELS[event].model_validate(form), RECEIVED, CTX)


def test_inbound_lifecycle() -> None:
    start, internal, answer, end, record = (
        normalize(e) for e in ["NOTIFY_START", "NOTIFY_INTERNAL", "NOTIFY_ANSWER", "NOTIFY_END", "NOTIFY_RECORD"]
    )
    assert [e.phase for e in (start, internal, answer, end, record)] == [
        "initiated",
        "ringing",
        "answered",
        "ended",
        "recording",
    ]
    assert {e.call_id for e in (start, internal, answer, end, record)} == {"in_0123"}
    for event in (start, internal, answer, end):
        assert event.direction == "inbound"
        assert event.counterpart is not None and event.counterpart.e164 == "+79001234567"
    assert start.our_number is not None and start.our_number.e164 == "+74951234567"
    assert internal.agent == answer.agent == end.agent == "100"
    assert start.started_at == datetime(2024, 1, 1, 7, 0, tzinfo=UTC)  # Moscow is UTC+3
    assert (end.status, end.duration_s, end.talk_s) == ("answered", 60, 60)
    assert end.recording_ref == record.recording_ref == "zadarma:1704103200.123456"


def test_outbound_counterpart_is_the_destination() -> None:
    end = normalize("NOTIFY_OUT_END")
    assert (end.direction, end.status, end.agent) == ("outbound", "missed", "100")
    assert end.counterpart is not None and end.counterpart.e164 == "+79169998877"
    assert end.our_number is not None and end.our_number.e164 == "+74951234567"


@pytest.mark.parametrize(
    ("disposition", "status"),
    [
        ("answered", "answered"),
        ("busy", "busy"),
        ("cancel", "abandoned"),
        ("no answer", "missed"),
        ("failed", "failed"),
        ("no money", "failed"),
        ("unallocated number", "failed"),
        ("line limit", "failed"),
    ],
)
def test_dispositions(disposition: str, status: str) -> None:
    assert normalize("NOTIFY_END", disposition=disposition).status == status


def test_ringing_each_extension_is_its_own_event_and_retries_are_not() -> None:
    assert (
        normalize("NOTIFY_INTERNAL", internal="100").event_id != normalize("NOTIFY_INTERNAL", internal="101").event_id
    )
    assert normalize("NOTIFY_END").event_id == normalize("NOTIFY_END").event_id


ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


@given(
    zone=st.sampled_from(ZONES),
    local=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31)),
)
def test_call_start_is_read_in_the_configured_zone(zone: str, local: datetime) -> None:
    local = local.replace(microsecond=0)
    ctx = call_context("RU", zone, ())
    form = notification("NOTIFY_START", call_start=local.strftime("%Y-%m-%d %H:%M:%S"))
    event = normalize_zadarma(MODELS["NOTIFY_START"].model_validate(form), RECEIVED, ctx)
    assert event.started_at is not None
    assert event.started_at.utcoffset() == timedelta(0)
    offset = ZoneInfo(zone).utcoffset(local)
    assert offset is not None
    assert event.started_at == (local - offset).replace(tzinfo=UTC)
