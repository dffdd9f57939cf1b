"""The meeting's minimum data set and the desk's reading of a search, as pure functions."""

from __future__ import annotations

import pytest

from services.reporting.keep_contacts import classify_query, missing_meeting_fields, normalize_phone


def test_every_missing_field_of_the_minimum_data_set_is_named_in_form_order() -> None:
    errors = missing_meeting_fields({"last_name": "Doe", "topic": " ", "email": ""})
    assert [e.field for e in errors] == ["date", "first_name", "contact_details", "topic", "result"]


def test_one_contact_detail_is_enough() -> None:
    data = {"date": "2026-11-30", "last_name": "Doe", "first_name": "J", "topic": "t", "result": "r"}
    assert missing_meeting_fields(data | {"email": "j@x.test"}) == []
    assert missing_meeting_fields(data | {"phone": "4155550201"}) == []


@pytest.mark.parametrize(
    ("raw", "e164"),
    [("(415) 555-0201", "+14155550201"), ("+1 415 555 0201", "+14155550201"), ("415.555.0201", "+14155550201"),
     ("+44 20 7946 0018", "+442079460018"), ("12", None), ("abc", None)],
)  # fmt: skip
def test_numbers_in_any_format_become_e164(raw: str, e164: str | None) -> None:
    assert normalize_phone(raw, "US") == e164


@pytest.mark.parametrize(
    ("q", "address", "name"),
    [("Jane@Client.TEST", "jane@client.test", None), ("(415) 555-0201", "+14155550201", None),
     ("Doe", None, "Doe"), ("Room 101", None, "Room 101")],
)  # fmt: skip
def test_a_search_is_an_address_or_a_name(q: str, address: str | None, name: str | None) -> None:
    assert classify_query(q, "US") == (address, name)
