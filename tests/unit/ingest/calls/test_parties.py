"""Who is who in a call: ownership decides the direction whatever format the numbers are written in."""

from __future__ import annotations

from datetime import UTC, datetime

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ingest.calls.parties import (
    agent_of,
    call_context,
    digest_event_id,
    infer_direction,
    is_ours,
    local_to_utc,
    split_parties,
)
from services.ingest.calls.phones import normalize_phone

REGIONS = ["US", "GB", "DE", "FR", "RU", "IN", "BR", "AU", "JP", "PL"]


@given(
    region=st.sampled_from(REGIONS),
    ours_format=st.sampled_from(
        [
            phonenumbers.PhoneNumberFormat.E164,
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            phonenumbers.PhoneNumberFormat.NATIONAL,
        ]
    ),
    theirs_format=st.sampled_from([phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL]),
)
def test_direction_follows_ownership_in_any_number_format(region: str, ours_format: int, theirs_format: int) -> None:
    ours = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.FIXED_LINE)
    # A client abroad (some regions' example fixed and mobile numbers are the same number).
    theirs = phonenumbers.example_number_for_type("GB" if region != "GB" else "DE", phonenumbers.PhoneNumberType.MOBILE)
    assert ours is not None and theirs is not None
    ours_e164 = phonenumbers.format_number(ours, phonenumbers.PhoneNumberFormat.E164)
    ctx = call_context(region, "UTC", (phonenumbers.format_number(ours, ours_format),))
    company = normalize_phone(phonenumbers.format_number(ours, ours_format), region)
    client = normalize_phone(phonenumbers.format_number(theirs, theirs_format), region)
    assert is_ours(company, ctx) and not is_ours(client, ctx)
    assert infer_direction(client, company, ctx, "unknown") == "inbound"
    assert infer_direction(company, client, ctx, "unknown") == "outbound"
    parties = split_parties("inbound", client, company)
    assert parties.counterpart == client
    assert parties.our_number is not None and parties.our_number.e164 == ours_e164


@pytest.mark.parametrize(
    ("raw", "ours", "agent"),
    [
        ("101", True, "101"),
        ("client:alice", True, "alice"),
        ("sip:alice@pbx.example.com", True, "alice"),
        ("sip:+14155550123@carrier.example.com", False, None),
        ("+14155550100", True, None),
        ("anonymous", False, None),
    ],
)
def test_internal_addresses_are_ours(raw: str, ours: bool, agent: str | None) -> None:
    ctx = call_context("US", "UTC", ("+1 415 555 0100",))
    party = normalize_phone(raw, "US")
    assert is_ours(party, ctx) is ours
    assert agent_of(party) == agent


def test_two_external_parties_keep_the_providers_hint() -> None:
    ctx = call_context("US", "UTC", ())
    a, b = normalize_phone("+14155550123", "US"), normalize_phone("+14155550124", "US")
    assert infer_direction(a, b, ctx, "inbound") == "inbound"
    assert infer_direction(a, b, ctx, "unknown") == "unknown"


def test_local_times_across_a_dst_change() -> None:
    zone = call_context("US", "America/New_York", ()).timezone
    assert local_to_utc(datetime(2026, 7, 1, 9, 0), zone) == datetime(2026, 7, 1, 13, 0, tzinfo=UTC)
    assert local_to_utc(datetime(2026, 12, 1, 9, 0), zone) == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    # 01:30 happens twice on 2026-11-01; the first (daylight) occurrence is taken.
    assert local_to_utc(datetime(2026, 11, 1, 1, 30), zone) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


@given(st.lists(st.text(max_size=30), min_size=1, max_size=5))
def test_digest_ids_are_stable_and_printable(parts: list[str]) -> None:
    event_id = digest_event_id("zadarma", *parts)
    assert event_id == digest_event_id("zadarma", *parts)
    assert event_id.isascii() and event_id.isprintable() and " " not in event_id
    assert digest_event_id("zadarma", *parts, "x") != event_id
