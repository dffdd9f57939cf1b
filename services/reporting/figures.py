"""The figures per manager and team for a day, an ISO week or a month: sums of the `manager_daily` rows the classifier
keeps (percentiles over the days' pooled times, never averaged) and the current state of tasks and the backlog;
each figure with the link to the records it counts (`/reports/records`, report_records.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, NotRequired, TypedDict
from urllib.parse import urlencode

import asyncpg

from services.classifier.count_figures import awaiting_sql, day_figures, summed, summed_sql

FIGURES: tuple[str, ...] = (
    "calls_in",
    "calls_out",
    "calls_answered",
    "calls_missed",
    "calls_abandoned",
    "callbacks_due",
    "callbacks_within_sla",
    "callback_median_s",
    "callback_p90_s",
    "callback_sla_share",
    "tasks_open",
    "tasks_overdue",
    "backlog",
    "backlog_oldest_s",
    "wrong_number_share",
    "emails_in",
    "emails_answered",
    "reply_median_s",
    "meetings",
    "meetings_complete",
    "contacts_new",
    "data_completeness",
    "deals_opened",
    "deals_won",
    "deals_lost",
    "deals_won_amount",
)
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Calls", ("calls_in", "calls_out", "calls_answered", "calls_missed", "calls_abandoned", "wrong_number_share")),
    (
        "Callbacks",
        ("callbacks_due", "callbacks_within_sla", "callback_sla_share", "callback_median_s", "callback_p90_s"),
    ),
    ("Tasks and confirmations", ("tasks_open", "tasks_overdue", "backlog", "backlog_oldest_s")),
    ("Email", ("emails_in", "emails_answered", "reply_median_s")),
    ("Meetings and contacts", ("meetings", "meetings_complete", "contacts_new", "data_completeness")),
    ("Deals", ("deals_opened", "deals_won", "deals_lost", "deals_won_amount")),
)
"""The figures as pages show them: a few short tables a laptop shows whole, instead of one 26 columns wide."""
LABELS: dict[str, str] = {
    "calls_in": "Calls in",
    "calls_out": "Calls out",
    "calls_answered": "Answered",
    "calls_missed": "Missed",
    "calls_abandoned": "Abandoned",
    "callbacks_due": "Callbacks due",
    "callbacks_within_sla": "Called back in time",
    "callback_median_s": "Callback time, median",
    "callback_p90_s": "Callback time, 90th percentile",
    "callback_sla_share": "Called back within the SLA",
    "tasks_open": "Open tasks",
    "tasks_overdue": "Overdue tasks",
    "backlog": "Awaiting confirmation",
    "backlog_oldest_s": "Oldest awaiting confirmation",
    "wrong_number_share": "Wrong numbers",
    "emails_in": "Emails received",
    "emails_answered": "Emails answered",
    "reply_median_s": "Reply time, median",
    "meetings": "Meetings",
    "meetings_complete": "Meetings with the minimum data set",
    "contacts_new": "New contacts",
    "data_completeness": "Data completeness",
    "deals_opened": "Deals opened",
    "deals_won": "Deals won",
    "deals_lost": "Deals lost",
    "deals_won_amount": "Won amount",
}
PLAN_METRICS: dict[str, str] = {
    "contacts": "contacts_new",
    "meetings": "meetings_complete",
    "deals_closed": "deals_won",
}
"""The figure a plan metric (schemas/actions.py PlanMetric) is measured by."""
CURRENT: tuple[str, ...] = ("tasks_open", "tasks_overdue", "backlog", "backlog_oldest_s")
"""Figures of the current state, the same whatever the period."""
RECORDS_OF: dict[str, str] = {
    "callback_median_s": "callback_s",
    "callback_p90_s": "callback_s",
    "callback_sla_share": "callbacks_due",
    "wrong_number_share": "calls_wrong",
    "reply_median_s": "reply_s",
    "data_completeness": "contacts_new",
    "deals_won_amount": "deals_won",
}
"""A figure taken over other records than its own name says: the callback times over the callbacks done, …"""


class Figure(TypedDict):
    value: int | float | None
    records: str


class ManagerFigures(TypedDict):
    manager_id: str
    team: str | None
    figures: dict[str, Figure]
    sums: NotRequired[dict[str, Any]]
    """The period's summed counts and pooled response times, which team totals are taken from; not shown."""


def period_name(start: date, end: date) -> str:
    """`2026-11-30`, `2026-W49` or `2026-11` when [start, end) is one; else `2026-11-03..2026-11-17`."""
    if end - start == timedelta(days=1):
        return start.isoformat()
    if end - start == timedelta(days=7) and start.isoweekday() == 1:
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if start.day == 1 and end == date(start.year + start.month // 12, start.month % 12 + 1, 1):
        return f"{start.year}-{start.month:02d}"
    return f"{start.isoformat()}..{end.isoformat()}"


def _links(manager_id: str, period: str, team: str | None = None) -> dict[str, str]:
    """Per figure, the page listing exactly the records it counts for the manager in the period (with a `team`: on
    the days the manager was in it, as a team's figures count them). The manager and the period are quoted once,
    not 26 times: an answer builds 1,300 links."""
    start = "/reports/records?" + urlencode({"manager_id": manager_id}) + "&figure="
    end = "&" + urlencode({"period": period} | ({"team": team} if team else {}))
    return {name: f"{start}{_QUOTED[name]}{end}" for name in FIGURES}


def team_records_link(team: str, name: str, period: str) -> str:
    return "/reports/records?" + urlencode({"team": team, "figure": name, "period": period})


async def manager_figures(
    pool: asyncpg.Pool,
    manager_ids: list[str] | None,
    start: date,
    end: date,
    tz: str,
    team: str | None = None,
    *,
    now: datetime | None = None,
) -> list[ManagerFigures]:
    """Every manager in `manager_ids` (None: all), by id. With a `team`, a team's figures: the managers who were in
    it on a day of the period, each with the days they were in it (a day belongs to the team the manager was in
    that day, `manager_daily.team`), and the current state of those in it now. `tz` must be the classifier's
    TOUCHPOINT_TIMEZONE: the days of `manager_daily` are its days. `now` (default: the database's) is when tasks
    are overdue and the backlog's age is taken."""
    managers = await pool.fetch(
        """SELECT m.id, coalesce(m.team, (SELECT u.team FROM users u WHERE u.manager_id = m.id AND u.active
                                          LIMIT 1)) AS team
           FROM managers m WHERE ($1::text[] IS NULL OR m.id = ANY($1)) ORDER BY m.id""",
        manager_ids,
    )
    if team is not None:
        were_in = {
            r["manager_id"]
            for r in await pool.fetch(
                "SELECT DISTINCT manager_id FROM manager_daily WHERE team = $1 AND day >= $2 AND day < $3",
                team,
                start,
                end,
            )
        }
        managers = [m for m in managers if m["team"] == team or m["id"] in were_in]
    ids = [m["id"] for m in managers]
    days = await _period_sums(pool, ids, start, end, team)
    # The current state (open tasks, backlog) is the team's of those in it now, not of those who left.
    current = await _current(pool, [m["id"] for m in managers if team is None or m["team"] == team], now)
    period = period_name(start, end)
    out: list[ManagerFigures] = []
    for m in managers:
        total = summed(days.get(m["id"], []), start)
        values = _values(total) | current.get(m["id"], dict.fromkeys(CURRENT))
        links = _links(m["id"], period, team)
        figures = {name: Figure(value=values[name], records=links[name]) for name in FIGURES}
        out.append(ManagerFigures(manager_id=m["id"], team=m["team"], figures=figures, sums=total))
    return out


def team_total(rows: Sequence[ManagerFigures], team: str, period: str) -> dict[str, Figure]:
    """A team's figures from its managers': counts added, percentiles over the pooled times, shares of the sums."""
    values = _values(summed([r["sums"] for r in rows if "sums" in r], date.min))
    for name in CURRENT:
        found = [float(v) for r in rows if (v := r["figures"][name]["value"]) is not None]
        values[name] = (max(found) if name == "backlog_oldest_s" else sum(found)) if found else None
    if rows and values["backlog_oldest_s"] is None:
        values["backlog"] = values["backlog"] or 0
    return {name: Figure(value=values[name], records=team_records_link(team, name, period)) for name in FIGURES}


async def daily_series(
    pool: asyncpg.Pool,
    manager_ids: list[str] | None,
    start: date,
    end: date,
    tz: str,
    names: Sequence[str],
    team: str | None = None,
) -> dict[str, list[tuple[date, float | None]]]:
    """Per figure, its value on each day of [start, end) over the managers (None: all) and, with a `team`, their
    days in it; for charts. Figures of the current state have no history: their series are None."""
    rows = await pool.fetch(
        """SELECT * FROM manager_daily WHERE ($1::text[] IS NULL OR manager_id = ANY($1)) AND day >= $2 AND day < $3
             AND ($4::text IS NULL OR team = $4)
           ORDER BY day""",
        manager_ids,
        start,
        end,
        team,
    )
    by_day: dict[date, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_day.setdefault(row["day"], []).append(dict(row))
    series: dict[str, list[tuple[date, float | None]]] = {name: [] for name in names}
    day = start
    while day < end:
        values = _values(summed(by_day.get(day, []), day))
        for name in names:
            value = values.get(name)
            series[name].append((day, None if value is None else float(value)))
        day += timedelta(days=1)
    return series


def _values(total: Mapping[str, Any]) -> dict[str, Any]:
    """The period's figures from the sum of its days (count_figures.summed)."""
    figures = day_figures(total)
    figures["deals_won_amount"] = float(figures["deals_won_amount"])
    return figures


async def _period_sums(
    pool: asyncpg.Pool, ids: list[str], start: date, end: date, team: str | None
) -> dict[str, list[Mapping[str, Any]]]:
    """Per manager, the sum of their days of [start, end) as one row (summed by the database: a month is 1,550
    rows for 50 managers), with a `team` only the days they were in it; `summed` of it is the sum of the days."""
    rows = await pool.fetch(_PERIOD_SUMS, ids, start, end, team)
    return {row["manager_id"]: [dict(row)] for row in rows}


async def _current(
    pool: asyncpg.Pool, ids: list[str], now: datetime | None
) -> dict[str, dict[str, int | float | None]]:
    """Open and overdue tasks per assignee, and interactions awaiting confirmation with the age of the oldest: the
    counts the classifier keeps in `manager_current`; of the open tasks with a due time, those due later than `now`
    are found by index and the rest are overdue; the oldest awaiting is the first of its index range."""
    out: dict[str, dict[str, int | float | None]] = {i: dict.fromkeys(CURRENT, 0) for i in ids}
    for i in ids:
        out[i]["backlog_oldest_s"] = None
    for row in await pool.fetch(_CURRENT_SQL, ids, now):
        oldest = row["oldest"]
        out[row["manager_id"]] = {
            "tasks_open": row["tasks_open"],
            "tasks_overdue": row["tasks_due"] - row["due_later"],
            "backlog": row["backlog"],
            "backlog_oldest_s": None if oldest is None else max(0.0, oldest),
        }
    return out


_QUOTED = {name: urlencode({"": name})[1:] for name in FIGURES}
_PERIOD_SUMS = f"""
    SELECT d.manager_id, {summed_sql("d")} FROM manager_daily d
    WHERE d.manager_id = ANY($1::text[]) AND d.day >= $2 AND d.day < $3 AND ($4::text IS NULL OR d.team = $4)
    GROUP BY d.manager_id"""  # noqa: S608 - fixed columns
AWAITING = awaiting_sql("i")
"""An interaction awaiting a person's confirmation (the manager's queue, queries.awaiting_confirmation)."""
_CURRENT_SQL = f"""
    SELECT c.manager_id, c.tasks_open, c.tasks_due, c.backlog,
           (SELECT count(*) FROM tasks t
            WHERE t.status = 'open' AND t.assignee_id = c.manager_id AND t.due_at >= coalesce($2, now()))::int
               AS due_later,
           extract(epoch FROM coalesce($2, now()) - (
               SELECT min(coalesce(i.ended_at, i.started_at)) FROM interactions i
               WHERE i.manager_id = c.manager_id AND {AWAITING}))::float AS oldest
    FROM manager_current c WHERE c.manager_id = ANY($1::text[])"""  # noqa: S608 - fixed condition
