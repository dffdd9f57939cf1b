"""The pure half of the figures step: which (manager, day) keys a batch touches, percentiles as PostgreSQL takes
them, and the report records built from manager-day rows."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from schemas.records import ManagerDaily
from services.classifier.batch_state import Deal
from services.classifier.count_figures import (
    COUNTS,
    TIMES,
    callback_changed,
    current_changes,
    manager_daily,
    marks,
    percentile,
    team_daily,
    team_digest,
    touched,
    with_version,
)
from tests.unit.classifier.factories import T0, answered, missed
from tests.unit.classifier.test_classify import apply_call, known_client, office

ZONE = ZoneInfo("America/New_York")


def test_a_missed_call_touches_its_managers_local_day_and_the_callbacks_assignee() -> None:
    world = office()
    known_client(world, owner="bob")
    before = marks(world, ZONE)
    late = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)  # 21:30 on the 26th in New York
    apply_call(world, missed("c1", agent="101", t0=late))
    keys = touched(before, marks(world, ZONE))
    assert keys == {("ann", date(2026, 11, 26)), ("bob", date(2026, 11, 26))}, "the call is Ann's, the task Bob's"


def test_a_change_of_hands_touches_both_managers_and_an_untouched_row_nothing() -> None:
    world = office()
    deal = Deal(uuid.uuid4(), uuid.uuid4(), "ann", None, "open", None, T0)
    world.deals[deal.id] = deal
    before = marks(world, ZONE)
    assert touched(before, marks(world, ZONE)) == set()
    world.deals[deal.id] = replace(deal, manager_id="bob", status="won", closed_at=T0 + timedelta(days=2))
    keys = touched(before, marks(world, ZONE))
    day = T0.astimezone(ZONE).date()
    assert keys == {("ann", day), ("bob", day), ("bob", day + timedelta(days=2))}


def test_a_reassigned_contact_touches_the_day_of_the_event_that_created_it_for_both_owners() -> None:
    world = office()
    cid = known_client(world, owner="ann")
    world.contacts[cid].occurred_at = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)  # 21:30 on the 26th in New York
    before = marks(world, ZONE)
    world.contacts[cid].owner_id = "bob"
    assert touched(before, marks(world, ZONE)) == {("ann", date(2026, 11, 26)), ("bob", date(2026, 11, 26))}


def test_a_lead_created_by_a_late_call_is_new_on_the_calls_day_whenever_it_is_applied() -> None:
    world = office()
    before = marks(world, ZONE)
    late = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)  # replayed days later, still the 26th in New York
    apply_call(world, answered("c1", agent="101", t0=late))
    (lead,) = world.contacts.values()
    assert lead.occurred_at is not None and lead.occurred_at.astimezone(ZONE).date() == date(2026, 11, 26)
    assert ("ann", date(2026, 11, 26)) in touched(before, marks(world, ZONE))


def test_a_batch_changes_the_current_state_of_the_managers_whose_rows_it_changed() -> None:
    world = office()
    known_client(world, owner="bob")
    before = marks(world, ZONE)
    ix = apply_call(world, missed("c1", agent="101"))
    after = marks(world, ZONE)
    # Ann's missed call awaits her confirmation; Bob owns the client: his callback is open and due by the SLA.
    assert current_changes(before, after) == {"ann": (0, 0, 1), "bob": (1, 1, 0)}
    assert current_changes(after, marks(world, ZONE)) == {}, "nothing changed since"
    task = next(iter(world.tasks.values()))
    world.tasks[task.id] = replace(task, assignee_id="ann", due_at=None)
    world.interactions[ix.id].outcome = "no_answer"
    assert current_changes(after, marks(world, ZONE)) == {"ann": (1, 0, -1), "bob": (-1, -1, 0)}
    world.tasks[task.id] = replace(task, status="done")
    assert current_changes(before, marks(world, ZONE)) == {}, "closed and confirmed in the batch: no change"


@given(st.lists(st.integers(0, 10_000), max_size=40), st.sampled_from([0.0, 0.5, 0.9, 1.0]))
def test_percentile_interpolates_between_ranks_like_percentile_cont(values: list[int], q: float) -> None:
    got = percentile(values, q)
    if not values:
        assert got is None
        return
    ordered = sorted(values)
    assert got is not None
    assert ordered[0] <= got <= ordered[-1]
    if q == 0.5 and len(ordered) % 2 == 1:
        assert got == ordered[len(ordered) // 2]
    assert percentile([10, 20], 0.9) == 19.0


def _row(manager: str, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COUNTS, 0) | {name: [] for name in TIMES}
    return row | {"manager_id": manager, "day": date(2026, 11, 30), "team": "east", "version": 3,
                  "deals_won_amount": Decimal("0")} | kw  # fmt: skip


def test_a_manager_day_record_has_its_shares_and_percentiles_and_no_person() -> None:
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    row = _row("ann", calls_in=3, calls_out=1, calls_wrong=1, callbacks_due=4, callbacks_within_sla=3,
               callback_s=[60, 120, 3000], contacts_new=2, contacts_complete=1, deals_won=1,
               deals_won_amount=Decimal("99.90"))  # fmt: skip
    record = manager_daily(row, now)
    assert record.event_id == "ann|2026-11-30:3"
    assert (record.wrong_number_share, record.callback_sla_share, record.data_completeness) == (0.25, 0.75, 0.5)
    assert (record.callback_median_s, record.reply_median_s) == (120.0, None)
    payload = ManagerDaily.model_validate_json(record.model_dump_json(by_alias=True))
    assert payload.deals_won_amount == Decimal("99.90")
    assert callback_changed(None, row)
    assert not callback_changed(dict(row), row)
    assert callback_changed(dict(row) | {"callback_s": [60]}, row)


def test_a_team_day_adds_counts_and_pools_times_never_averaging_medians() -> None:
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    rows = [_row("ann", callbacks_due=1, callback_s=[10]), _row("bob", callbacks_due=3, callback_s=[20, 30, 400])]
    team = team_daily("east", date(2026, 11, 30), rows, now)
    assert (team.callbacks_due, team.managers, team.callback_median_s) == (4, 2, 25.0)  # not mean(10, 30) = 20
    later = team_daily("east", date(2026, 11, 30), rows, now + timedelta(hours=1))
    assert team_digest(later) == team_digest(team), "the same figures: no new record"
    assert team_digest(team_daily("east", date(2026, 11, 30), rows[:1], now)) != team_digest(team)
    assert with_version(team, 4).event_id == "east|2026-11-30:4"
