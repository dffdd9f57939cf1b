"""Figures per manager and local day (pure): which (manager, day) keys a batch's changes touch, percentiles, and the
report records (`schemas/records.py`) built from `manager_daily` rows. update_figures.py does the I/O."""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from schemas.records import CallbackSla, DayFigures, ManagerDaily, TeamDaily
from services.classifier.batch_state import BatchState

Key = tuple[str, date]
"""(manager_id, local day)"""

COUNTS = (
    "calls_in",
    "calls_out",
    "calls_answered",
    "calls_missed",
    "calls_abandoned",
    "calls_wrong",
    "callbacks_due",
    "callbacks_within_sla",
    "emails_in",
    "emails_answered",
    "meetings",
    "meetings_complete",
    "contacts_new",
    "contacts_complete",
    "deals_opened",
    "deals_won",
    "deals_lost",
)
"""The additive counts of a `manager_daily` row (a week's is the sum of its days')."""
TIMES = ("callback_s", "reply_s")
"""The response times kept per day, which medians and 90th percentiles are taken over."""


@dataclass(frozen=True, slots=True)
class Source:
    """Rows a figure counts: a table (with its alias), its manager column, the time (or date) that places a row on a
    day, and what every counted row of it satisfies."""

    table: str
    manager: str
    at: str
    where: str = "true"
    is_date: bool = False


INTERACTIONS = Source(
    "interactions i", "i.manager_id", "coalesce(i.ended_at, i.started_at)",
    "NOT i.internal AND (i.kind = 'email' OR i.phase = 'ended')",
)  # fmt: skip
TASKS = Source(
    "tasks t", "t.assignee_id", "t.created_at", "t.kind IN ('callback', 'reply') AND t.status <> 'cancelled'"
)
MEETINGS = Source("meetings m", "m.manager_id", "m.meeting_date", is_date=True)
CONTACTS = Source("contacts c", "c.owner_id", "c.occurred_at", "c.merged_into IS NULL")
DEALS_OPENED = Source("deals d", "d.manager_id", "d.opened_at")
DEALS_CLOSED = Source("deals d", "d.manager_id", "d.closed_at", "d.closed_at IS NOT NULL")
_CALLBACK_DONE = "t.kind = 'callback' AND t.status = 'done' AND t.response_s IS NOT NULL"
_REPLIED = "t.kind = 'reply' AND t.status = 'done' AND t.closed_by_interaction_id IS NOT NULL"

COUNTED: dict[str, tuple[Source, str]] = {
    "calls_in": (INTERACTIONS, "i.kind = 'call' AND i.direction = 'inbound'"),
    "calls_out": (INTERACTIONS, "i.kind = 'call' AND i.direction = 'outbound'"),
    "calls_answered": (INTERACTIONS, "i.kind = 'call' AND i.direction = 'inbound' AND i.auto_status = 'answered'"),
    "calls_missed": (INTERACTIONS, "i.kind = 'call' AND i.direction = 'inbound' AND i.auto_status = 'missed'"),
    "calls_abandoned": (INTERACTIONS, "i.kind = 'call' AND i.direction = 'inbound' AND i.auto_status = 'abandoned'"),
    "calls_wrong": (
        INTERACTIONS,
        "i.kind = 'call' AND i.direction IN ('inbound', 'outbound') AND (i.outcome = 'wrong_number'"
        " OR (i.flag IN ('pending', 'confirmed') AND i.flag_kind = 'wrong_number'))",
    ),
    "emails_in": (INTERACTIONS, "i.kind = 'email' AND i.direction = 'inbound' AND i.auto_status = 'received'"),
    "callbacks_due": (TASKS, "t.kind = 'callback'"),
    "callbacks_within_sla": (TASKS, "t.kind = 'callback' AND t.status = 'done' AND t.closed_at <= t.due_at"),
    "emails_answered": (TASKS, _REPLIED),
    "meetings": (MEETINGS, "true"),
    "meetings_complete": (
        MEETINGS,
        "btrim(m.last_name) <> '' AND btrim(m.first_name) <> '' AND (m.phone IS NOT NULL OR m.email IS NOT NULL)"
        " AND btrim(m.topic) <> '' AND btrim(m.result) <> ''",
    ),
    "contacts_new": (CONTACTS, "true"),
    "contacts_complete": (
        CONTACTS,
        "c.first_name IS NOT NULL AND c.last_name IS NOT NULL"
        " AND EXISTS (SELECT 1 FROM contact_addresses a WHERE a.contact_id = c.id)",
    ),
    "deals_opened": (DEALS_OPENED, "true"),
    "deals_won": (DEALS_CLOSED, "d.status = 'won'"),
    "deals_lost": (DEALS_CLOSED, "d.status = 'lost'"),
}
"""What each count counts: the one definition the classifier's recomputation and the records behind a figure share."""
TIMED: dict[str, tuple[Source, str]] = {"callback_s": (TASKS, _CALLBACK_DONE), "reply_s": (TASKS, _REPLIED)}
"""The response times (`response_s`) kept per day, and of which tasks."""
SUMMED: dict[str, tuple[Source, str, str]] = {"deals_won_amount": (DEALS_CLOSED, "d.amount", "d.status = 'won'")}


def within_day(source: Source, manager: str, day: str, t0: str, t1: str) -> str:
    """The SQL condition placing `source`'s rows on one manager's day (`t0`..`t1`: the day's bounds)."""
    when = f"{source.at} = {day}" if source.is_date else f"{source.at} >= {t0} AND {source.at} < {t1}"
    return f"{source.manager} = {manager} AND {source.where} AND {when}"


def day_figures_sql() -> str:
    """`CROSS JOIN LATERAL` subqueries computing every column of one `manager_daily` row of `k` (manager_id, day,
    t0, t1), one per source."""
    parts: dict[Source, list[str]] = {}
    for name, (source, where) in COUNTED.items():
        parts.setdefault(source, []).append(f"count(*) FILTER (WHERE {where})::int AS {name}")
    for name, (source, where) in TIMED.items():
        column = f"{source.table.split()[1]}.response_s"
        parts.setdefault(source, []).append(
            f"coalesce(array_agg({column} ORDER BY {column}) FILTER (WHERE {where}), '{{}}') AS {name}"
        )
    for name, (source, value, where) in SUMMED.items():
        parts.setdefault(source, []).append(f"coalesce(sum({value}) FILTER (WHERE {where}), 0) AS {name}")
    laterals = []
    for n, (source, columns) in enumerate(parts.items()):
        where = within_day(source, "k.manager_id", "k.day", "k.t0", "k.t1")
        select = f"SELECT {', '.join(columns)} FROM {source.table} WHERE {where}"  # noqa: S608 - fixed SQL
        laterals.append(f"CROSS JOIN LATERAL ({select}) AS s{n}")
    return "\n".join(laterals)


_CALLBACK = ("callbacks_due", "callbacks_within_sla", "callback_s")
Current = tuple[str, int, int, int]
"""(manager, open tasks, open tasks with a due time, interactions awaiting confirmation): one row's share of
`manager_current`, whose counts the batches keep by their changes."""


def awaiting_sql(alias: str) -> str:
    """An interaction `alias` awaiting a person's confirmation (the manager's queue), in SQL; `current_shares` is the
    same rule in Python, and migration 0014 counted by it."""
    return (
        f"{alias}.outcome IS NULL AND NOT {alias}.internal AND {alias}.auto_status IS NOT NULL"
        f" AND ({alias}.kind = 'email' OR {alias}.phase = 'ended')"
    )


@dataclass(frozen=True, slots=True)
class Marks:
    """Per row the figures read, what they read of it (a fingerprint) and the keys it counts towards. Taken as
    loaded and after the batch: the rows whose fingerprint differs touch the keys of both."""

    rows: dict[tuple[str, Hashable], tuple[Hashable, frozenset[Key]]] = field(default_factory=dict)
    teams: dict[str, str | None] = field(default_factory=dict)
    """Each manager's team: a move regroups the days it changes the team of (update_figures.py finds them)."""
    current: dict[tuple[str, Hashable], Current] = field(default_factory=dict)
    """What a row adds to its manager's current state (`manager_current`), for the rows that add anything."""


def local_day(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def marks(state: BatchState, zone: ZoneInfo) -> Marks:
    out = Marks()
    out.teams.update((m.id, m.team) for m in state.managers.values())
    for ix in state.interactions.values():
        at = ix.ended_at or ix.started_at
        keys = frozenset({(ix.manager_id, local_day(at, zone))} if ix.manager_id and at else ())
        seen = (ix.kind, ix.direction, ix.phase, ix.auto_status, ix.internal, ix.outcome, ix.flag, ix.flag_kind)
        out.rows[("interaction", ix.id)] = ((*seen, ix.manager_id, at), keys)
    for task in state.tasks.values():
        keys = frozenset({(task.assignee_id, local_day(task.created_at, zone))} if task.assignee_id else ())
        out.rows[("task", task.id)] = (task, keys)
    for meeting in state.meetings.values():
        out.rows[("meeting", meeting.id)] = (meeting, frozenset({(meeting.manager_id, meeting.meeting_date)}))
    for deal in state.deals.values():
        days = {local_day(at, zone) for at in (deal.opened_at, deal.closed_at) if at is not None}
        out.rows[("deal", deal.id)] = (deal, frozenset((deal.manager_id, d) for d in days))
    addresses: dict[uuid.UUID, int] = {}
    for address in state.addresses.values():
        addresses[address.contact_id] = addresses.get(address.contact_id, 0) + 1
    for c in state.contacts.values():
        # A contact counts on the day of the event that created it (`occurred_at`), for its owner.
        day = local_day(c.occurred_at, zone) if c.occurred_at else None
        seen_c = (c.owner_id, c.first_name, c.last_name, c.merged_into, addresses.get(c.id, 0), c.occurred_at)
        out.rows[("contact", c.id)] = (seen_c, frozenset({(c.owner_id, day)} if c.owner_id and day else ()))
    out.current.update(current_shares(state))
    return out


def current_shares(state: BatchState) -> dict[tuple[str, Hashable], Current]:
    """Each row's share of its manager's current state, for the rows that have one: an open task (with a due time
    or not) of its assignee; an interaction awaiting its manager's confirmation (`awaiting_sql`)."""
    out: dict[tuple[str, Hashable], Current] = {}
    for ix in state.interactions.values():
        if (
            ix.manager_id
            and ix.outcome is None
            and not ix.internal
            and ix.auto_status is not None
            and (ix.kind == "email" or ix.phase == "ended")
        ):
            out[("interaction", ix.id)] = (ix.manager_id, 0, 0, 1)
    for task in state.tasks.values():
        if task.assignee_id and task.status == "open":
            out[("task", task.id)] = (task.assignee_id, 1, int(task.due_at is not None), 0)
    return out


def touched(before: Marks, after: Marks) -> set[Key]:
    """The keys whose figures may have changed: those of every row whose fingerprint differs, before and after."""
    keys: set[Key] = set()
    for row, (seen, now_keys) in after.rows.items():
        was = before.rows.get(row)
        if was is None or was[0] != seen:
            keys |= now_keys | (was[1] if was else frozenset())
    return keys


def current_changes(before: Marks, after: Marks) -> dict[str, tuple[int, int, int]]:
    """Per manager, what the batch changed of (open tasks, open tasks with a due time, awaiting confirmation)."""
    out: dict[str, tuple[int, int, int]] = {}
    for row in before.current.keys() | after.current.keys():
        was, now = before.current.get(row), after.current.get(row)
        if was == now:
            continue
        for sign, share in ((-1, was), (1, now)):
            if share is not None:
                m, *counts = share
                total = out.get(m, (0, 0, 0))
                out[m] = (total[0] + sign * counts[0], total[1] + sign * counts[1], total[2] + sign * counts[2])
    return {m: counts for m, counts in out.items() if any(counts)}


def percentile(values: Sequence[float], q: float) -> float | None:
    """PostgreSQL's `percentile_cont`: linear interpolation between the closest ranks; None of nothing."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return float(ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower))


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def day_figures(row: Mapping[str, Any]) -> dict[str, Any]:
    """A `manager_daily` row (or a sum of rows) → the figures of `DayFigures`."""
    callback_s, reply_s = list(row["callback_s"]), list(row["reply_s"])
    calls = row["calls_in"] + row["calls_out"]
    return {
        "day": row["day"],
        **{name: row[name] for name in COUNTS},
        "wrong_number_share": share(row["calls_wrong"], calls),
        "callback_sla_share": share(row["callbacks_within_sla"], row["callbacks_due"]),
        "callback_median_s": percentile(callback_s, 0.5),
        "callback_p90_s": percentile(callback_s, 0.9),
        "reply_median_s": percentile(reply_s, 0.5),
        "data_completeness": share(row["contacts_complete"], row["contacts_new"]),
        "deals_won_amount": Decimal(row["deals_won_amount"]),
    }


def manager_daily(row: Mapping[str, Any], now: datetime) -> ManagerDaily:
    key = f"{row['manager_id']}|{row['day'].isoformat()}"
    return ManagerDaily(
        event_id=f"{key}:{row['version']}",
        manager_id=row["manager_id"],
        team=row["team"],
        version=row["version"],
        computed_at=now,
        **day_figures(row),
    )


def callback_sla(row: Mapping[str, Any], sla_minutes: int, now: datetime) -> CallbackSla:
    key = f"{row['manager_id']}|{row['day'].isoformat()}"
    times = list(row["callback_s"])
    return CallbackSla(
        event_id=f"callback-sla:{key}:{row['version']}",
        manager_id=row["manager_id"],
        team=row["team"],
        day=row["day"],
        sla_minutes=sla_minutes,
        callbacks_due=row["callbacks_due"],
        callbacks_within_sla=row["callbacks_within_sla"],
        callbacks_done=len(times),
        callback_sla_share=share(row["callbacks_within_sla"], row["callbacks_due"]),
        callback_median_s=percentile(times, 0.5),
        callback_p90_s=percentile(times, 0.9),
        computed_at=now,
    )


def callback_changed(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    return old is None or any(old[name] != new[name] for name in _CALLBACK)


def summed(rows: Iterable[Mapping[str, Any]], day: date) -> dict[str, Any]:
    """The sum of manager-day rows: counts added, response times pooled (percentiles are never averaged)."""
    total: dict[str, Any] = dict.fromkeys(COUNTS, 0) | {name: [] for name in TIMES}
    total |= {"day": day, "deals_won_amount": Decimal(0), "managers": 0}
    for row in rows:
        for name in COUNTS:
            total[name] += row[name]
        for name in TIMES:
            total[name] += list(row[name])
        total["deals_won_amount"] += Decimal(row["deals_won_amount"])
        total["managers"] += 1
    return total


def summed_sql(alias: str) -> str:
    """The select list of `summed` in SQL, over manager-day rows `alias` grouped by the caller (a group of none
    sums to zeros): `count(alias)` managers, counts added, times joined by `array_concat_agg` (migration 0014)."""
    counts = ", ".join(f"coalesce(sum({alias}.{c}), 0)::int AS {c}" for c in COUNTS)
    times = ", ".join(f"array_concat_agg({alias}.{c}) AS {c}" for c in TIMES)
    amount = f"coalesce(sum({alias}.deals_won_amount), 0) AS deals_won_amount"
    return f"count({alias}.day)::int AS managers, {counts}, {times}, {amount}"


def team_daily(team: str, day: date, rows: Sequence[Mapping[str, Any]], now: datetime) -> TeamDaily:
    """The team-day's record at version 0: `team_digest` tells whether it changed, `with_version` numbers it."""
    return team_record(team, summed(rows, day), now)


def team_record(team: str, total: Mapping[str, Any], now: datetime) -> TeamDaily:
    """`team_daily` of its rows' sum (`summed`, or `summed_sql` with the day)."""
    day = total["day"]
    return TeamDaily(
        event_id=f"{team}|{day.isoformat()}:0",
        team=team,
        managers=total["managers"],
        computed_at=now,
        **DayFigures(**day_figures(total)).model_dump(),
    )


def team_digest(record: TeamDaily) -> str:
    """What identifies a team-day's figures (not when they were computed)."""
    figures = record.model_dump_json(exclude={"event_id", "computed_at"})
    return hashlib.sha256(figures.encode()).hexdigest()[:32]


def with_version(record: TeamDaily, version: int) -> TeamDaily:
    return record.model_copy(update={"event_id": f"{record.team}|{record.day.isoformat()}:{version}"})
