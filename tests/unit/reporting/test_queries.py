"""Masking personal data and plan periods, as pure functions."""

from __future__ import annotations

from datetime import date

import pytest

from services.reporting.queries import HIDDEN, mask, period_bounds, periods_of


def test_masking_hides_numbers_names_and_an_emails_message_id_but_keeps_the_figures() -> None:
    call = {"kind": "call", "external_id": "pbx-1", "counterpart": "+14155550201", "first_name": "Jane", "talk_s": 5}
    email = {"kind": "email", "external_id": "<x@client.test>", "counterpart": "jane@client.test", "last_name": None}
    assert mask(call) == {
        "kind": "call",
        "external_id": "pbx-1",
        "counterpart": HIDDEN,
        "first_name": HIDDEN,
        "talk_s": 5,
    }
    assert mask(email) == {"kind": "email", "external_id": HIDDEN, "counterpart": HIDDEN, "last_name": None}


def test_a_day_lies_in_its_day_week_and_month() -> None:
    assert periods_of(date(2026, 11, 30)) == ("2026-11-30", "2026-W49", "2026-11")


@pytest.mark.parametrize(
    ("period", "bounds"),
    [("2026-11-30", (date(2026, 11, 30), date(2026, 12, 1))), ("2026-W49", (date(2026, 11, 30), date(2026, 12, 7))),
     ("2026-12", (date(2026, 12, 1), date(2027, 1, 1))), ("2026-02", (date(2026, 2, 1), date(2026, 3, 1)))],
)  # fmt: skip
def test_period_bounds(period: str, bounds: tuple[date, date]) -> None:
    assert period_bounds(period) == bounds
