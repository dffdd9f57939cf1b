from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ingest.calls.phones import normalize_phone


@pytest.mark.parametrize(
    ("raw", "region", "e164", "extension"),
    [
        ("+1 (415) 555-0123", "US", "+14155550123", None),
        ("415-555-0123", "US", "+14155550123", None),
        ("79161234567", "RU", "+79161234567", None),
        ("8 (916) 123-45-67", "RU", "+79161234567", None),
        ("79161234567", "US", "+79161234567", None),
        ("+49 30 123456", "US", "+4930123456", None),
        ("030 123456", "DE", "+4930123456", None),
        ("+1 415 555 0123 ext. 42", "US", "+14155550123", "42"),
        ("sip:+14155550123@pbx.example.com", "US", "+14155550123", None),
    ],
)
def test_numbers_become_e164(raw: str, region: str, e164: str, extension: str | None) -> None:
    phone = normalize_phone(raw, region)
    assert phone is not None
    assert phone.e164 == e164
    assert phone.extension == extension
    assert phone.raw == raw.strip()


@pytest.mark.parametrize("raw", ["101", "2001", "sip:101@pbx.local"])
def test_short_numbers_are_extensions_not_numbers(raw: str) -> None:
    phone = normalize_phone(raw, "US")
    assert phone is not None
    assert phone.e164 is None
    assert phone.extension is not None


@pytest.mark.parametrize("raw", ["anonymous", "unknown", "+", "--", "12345678901234567890"])
def test_unparseable_values_keep_the_raw_value_only(raw: str) -> None:
    phone = normalize_phone(raw, "US")
    assert phone is not None
    assert phone.e164 is None
    assert phone.raw == raw


def test_empty_is_no_party() -> None:
    assert normalize_phone(None, "US") is None
    assert normalize_phone("   ", "US") is None


REGIONS = ["US", "GB", "DE", "FR", "RU", "IN", "BR", "AU", "JP", "UA", "KZ", "PL"]


@given(st.sampled_from(REGIONS), st.data())
def test_example_numbers_of_many_countries_round_trip_in_every_format(region: str, data: st.DataObject) -> None:
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert number is not None
    expected = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    fmt = data.draw(
        st.sampled_from(
            [
                phonenumbers.PhoneNumberFormat.E164,
                phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                phonenumbers.PhoneNumberFormat.NATIONAL,
            ]
        )
    )
    written = phonenumbers.format_number(number, fmt)
    phone = normalize_phone(written, region)
    assert phone is not None
    assert phone.e164 == expected


# Control characters and lone surrogates never get this far: every source refuses them before (docs/sources.md).
CONTROLS = "".join(map(chr, range(32))) + "\x7f"


@given(st.text(st.characters(exclude_categories=["Cs"], exclude_characters=CONTROLS), max_size=60))
def test_never_raises_on_arbitrary_text(raw: str) -> None:
    phone = normalize_phone(raw, "US")
    assert phone is None or phone.raw == raw.strip()[:200]
