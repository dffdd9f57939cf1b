"""Stand-in for the figures read API of FIGURES.md until wt-figures lands: the same signatures, a few figures
counted straight from the tables (the real module keeps them incrementally). Replaced, not merged, by figures'."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, TypedDict
from urllib.parse import urlencode

import asyncpg

FIGURES: tuple[str, ...] = (
    "calls_in",
    "calls_out",
    "calls_answered",
    "calls_missed",
    "tasks_open",
    "tasks_overdue",
    "backlog",
    "backlog_oldest_s",
    "emails_in",
    "meetings",
    "meetings_complete",
    "contacts_new",
    "data_completeness",
    "deals_won",
)
LABELS: dict[str, str] = {
    "calls_in": "Calls in",
    "calls_out": "Calls out",
    "calls_answered": "Answered",
    "calls_missed": "Missed",
    "tasks_open": "Open tasks",
    "tasks_overdue": "Overdue tasks",
    "backlog": "To confirm",
    "backlog_oldest_s": "Oldest to confirm (s)",
    "emails_in": "Emails in",
    "meetings": "Meetings",
    "meetings_complete": "Meetings complete",
    "contacts_new": "New contacts",
    "data_completeness": "Data completeness",
    "deals_won": "Deals won",
}


class Figure(TypedDict):
    value: int | float | None
    records: str


class ManagerFigures(TypedDict):
    manager_id: str
    team: str | None
    figures: dict[str, Figure]


def records_link(manager_id: str, name: str, period: str) -> str:
    if name.startswith(("tasks", "backlog")):
        return "/queue"
    return "/interactions?" + urlencode({"manager_id": manager_id, "period": period})


def _period(start: date, end: date) -> str:
    if end - start == timedelta(days=1):
        return start.isoformat()
    if end - start == timedelta(days=7) and start.isoweekday() == 1:
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{start.year}-{start.month:02d}"


async def manager_figures(
    pool: asyncpg.Pool, manager_ids: list[str] | None, start: date, end: date, tz: str, team: str | None = None
) -> list[ManagerFigures]:
    rows = await pool.fetch(
        """WITH chosen AS (SELECT m.id, m.team FROM managers m
                           WHERE ($1::text[] IS NULL OR m.id = ANY($1)) AND ($2::text IS NULL OR m.team = $2))
           SELECT c.id AS manager_id, c.team,
             (SELECT count(*) FROM interactions i WHERE i.manager_id = c.id AND i.kind = 'call' AND NOT i.internal
                AND i.direction = 'inbound' AND (i.started_at AT TIME ZONE $5)::date >= $3
                AND (i.started_at AT TIME ZONE $5)::date < $4) AS calls_in,
             (SELECT count(*) FROM interactions i WHERE i.manager_id = c.id AND i.kind = 'call' AND NOT i.internal
                AND i.direction = 'outbound' AND (i.started_at AT TIME ZONE $5)::date >= $3
                AND (i.started_at AT TIME ZONE $5)::date < $4) AS calls_out,
             (SELECT count(*) FROM interactions i WHERE i.manager_id = c.id AND i.kind = 'call' AND NOT i.internal
                AND i.auto_status = 'answered' AND (i.started_at AT TIME ZONE $5)::date >= $3
                AND (i.started_at AT TIME ZONE $5)::date < $4) AS calls_answered,
             (SELECT count(*) FROM interactions i WHERE i.manager_id = c.id AND i.kind = 'call' AND NOT i.internal
                AND i.auto_status = 'missed' AND (i.started_at AT TIME ZONE $5)::date >= $3
                AND (i.started_at AT TIME ZONE $5)::date < $4) AS calls_missed,
             (SELECT count(*) FROM interactions i WHERE i.manager_id = c.id AND i.kind = 'email'
                AND i.direction = 'inbound' AND (i.started_at AT TIME ZONE $5)::date >= $3
                AND (i.started_at AT TIME ZONE $5)::date < $4) AS emails_in,
             (SELECT count(*) FROM tasks t WHERE t.assignee_id = c.id AND t.status = 'open') AS tasks_open,
             (SELECT count(*) FROM tasks t WHERE t.assignee_id = c.id AND t.status = 'open'
                AND t.due_at < now()) AS tasks_overdue,
             (SELECT count(*) FROM interactions i WHERE i.manager_id = c.id AND i.outcome IS NULL AND NOT i.internal
                AND i.auto_status IS NOT NULL AND (i.kind = 'email' OR i.phase = 'ended')) AS backlog,
             (SELECT extract(epoch FROM now() - min(i.started_at))::int FROM interactions i
                WHERE i.manager_id = c.id AND i.outcome IS NULL AND NOT i.internal AND i.auto_status IS NOT NULL
                AND (i.kind = 'email' OR i.phase = 'ended')) AS backlog_oldest_s,
             (SELECT count(*) FROM meetings mt WHERE mt.manager_id = c.id AND mt.meeting_date >= $3
                AND mt.meeting_date < $4) AS meetings,
             (SELECT count(*) FROM contacts ct WHERE ct.owner_id = c.id
                AND (ct.created_at AT TIME ZONE $5)::date >= $3 AND (ct.created_at AT TIME ZONE $5)::date < $4)
                AS contacts_new,
             (SELECT avg(CASE WHEN ct.first_name IS NOT NULL AND ct.last_name IS NOT NULL THEN 1.0 ELSE 0.0 END)
                FROM contacts ct WHERE ct.owner_id = c.id AND ct.merged_into IS NULL) AS data_completeness
           FROM chosen c ORDER BY c.id""",
        manager_ids,
        team,
        start,
        end,
        tz,
    )
    period = _period(start, end)
    out: list[ManagerFigures] = []
    for row in rows:
        values: dict[str, Any] = dict(row)
        values["meetings_complete"] = values["meetings"]
        values["deals_won"] = None
        if values["data_completeness"] is not None:
            values["data_completeness"] = float(values["data_completeness"])
        figures: dict[str, Figure] = {
            name: {"value": values[name], "records": records_link(row["manager_id"], name, period)} for name in FIGURES
        }
        out.append({"manager_id": row["manager_id"], "team": row["team"], "figures": figures})
    return out


def team_total(rows: list[ManagerFigures]) -> dict[str, int | float | None]:
    totals: dict[str, int | float | None] = {}
    for name in FIGURES:
        values = [v for r in rows if (v := r["figures"][name]["value"]) is not None]
        if not values:
            totals[name] = None
        elif name in ("data_completeness",):
            totals[name] = sum(values) / len(values)
        elif name == "backlog_oldest_s":
            totals[name] = max(values)
        else:
            totals[name] = sum(values)
    return totals


async def daily_series(
    pool: asyncpg.Pool, manager_ids: list[str] | None, start: date, end: date, tz: str, names: Sequence[str]
) -> dict[str, list[tuple[date, float | None]]]:
    days = [start + timedelta(days=n) for n in range((end - start).days)]
    out: dict[str, list[tuple[date, float | None]]] = {}
    for name in names:
        values: list[tuple[date, float | None]] = []
        for day in days:
            rows = await manager_figures(pool, manager_ids, day, day + timedelta(days=1), tz)
            total = team_total(rows).get(name)
            values.append((day, None if total is None else float(total)))
        out[name] = values
    return out
