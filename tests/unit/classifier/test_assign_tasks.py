from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.classifier.assign_tasks import ManagerView, choose_assignee, due_by
from services.classifier.policy import BusinessHours, InvalidBusinessHours

MANAGERS = {
    "ann": ManagerView("ann", on_duty=True, active=True),
    "bob": ManagerView("bob", on_duty=True, active=True),
    "cid": ManagerView("cid", on_duty=False, active=True),
    "gone": ManagerView("gone", on_duty=True, active=False),
}
HOURS = BusinessHours.parse("mon-fri 09:00-18:00", "Europe/Berlin")
BERLIN = ZoneInfo("Europe/Berlin")


def test_the_owner_comes_first() -> None:
    assert choose_assignee("cid", ["bob"], MANAGERS, {}) == "cid"


def test_then_the_last_manager_whose_phone_rang() -> None:
    assert choose_assignee(None, ["ann", "bob"], MANAGERS, {}) == "bob"
    assert choose_assignee("gone", ["cid"], MANAGERS, {}) == "cid", "an inactive owner is skipped"


def test_then_the_on_duty_manager_with_the_fewest_open_tasks() -> None:
    assert choose_assignee(None, [], MANAGERS, {"ann": 3, "bob": 1}) == "bob"
    assert choose_assignee(None, ["gone", "unknown"], MANAGERS, {"ann": 2, "bob": 2}) == "ann", "ties: smallest id"
    assert choose_assignee(None, [], {"cid": MANAGERS["cid"]}, {}) is None


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        (at(26, 10), 30, at(26, 10, 30)),  # Thursday, inside hours
        (at(26, 17, 50), 30, at(27, 9, 20)),  # crosses the evening
        (at(27, 17, 45), 30, at(30, 9, 15)),  # Friday evening → Monday
        (at(28, 12), 30, at(30, 9, 30)),  # Saturday: counting starts Monday at opening
        (at(26, 7), 60, at(26, 10)),  # before opening
        (at(26, 10), 9 * 60 + 30, at(27, 10, 30)),  # more than a business day
    ],
)
def test_due_times_count_business_minutes_only(start: datetime, minutes: int, expected: datetime) -> None:
    assert due_by(start.astimezone(UTC), minutes, HOURS) == expected


@given(st.integers(0, 5 * 24 * 60), st.integers(1, 3000))
def test_a_due_time_is_never_before_start_plus_sla_and_grows_with_the_sla(offset: int, minutes: int) -> None:
    start = at(23, 0) + timedelta(minutes=offset)
    due = due_by(start, minutes, HOURS)
    assert due >= start + timedelta(minutes=minutes)
    assert due_by(start, minutes + 1, HOURS) > due


@pytest.mark.parametrize("spec", ["weekdays 9-18", "mon-fri 18:00-09:00", "mon-xyz 09:00-18:00", "mon 25:00-26:00"])
def test_unreadable_business_hours_are_refused(spec: str) -> None:
    with pytest.raises(InvalidBusinessHours):
        BusinessHours.parse(spec, "UTC")


def test_a_day_range_may_wrap_the_week() -> None:
    assert BusinessHours.parse("sat-mon 10:00-14:00", "UTC").days == frozenset({5, 6, 0})
