"""Figures per manager for a day, an ISO week or a month (`GET /api/reports/managers?period=…[&team=T]`), each
with a link to the records it counts. PII-free: ids and counts only."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import urlencode

from services.reporting.problems import FieldError, Problem
from services.reporting.queries import period_bounds
from services.reporting.views import Ctx, Result

PERIOD = re.compile(
    r"^\d{4}-(?:(?:0[1-9]|1[0-2])|W(?:0[1-9]|[1-4]\d|5[0-3])|(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]))$"
)


def parse_period(raw: str | None) -> tuple[date, date]:
    """[first day, day after the last) of `2026-11-30`, `2026-W49` or `2026-11`; Problem 400 naming `period`."""
    if raw is None or not PERIOD.match(raw):
        raise Problem(
            400,
            "Invalid query parameter",
            "period must be a day (2026-11-30), an ISO week (2026-W49) or a month (2026-11)",
            [FieldError("period", "a day, an ISO week or a month")],
        )
    try:
        return period_bounds(raw)
    except ValueError as exc:
        raise Problem(400, "Invalid query parameter", str(exc), [FieldError("period", str(exc))]) from exc


async def managers_report(ctx: Ctx) -> Result:
    period = ctx.request.query.get("period")
    if period is None and not ctx.api:  # the page opens on today
        period = ctx.now.date().isoformat()
    start, end = parse_period(period)
    team = ctx.request.query.get("team")
    within = await ctx.managers()
    rows = await ctx.deps.pool.fetch(
        """WITH chosen AS (
               SELECT m.id, coalesce(m.team, (SELECT u.team FROM users u WHERE u.manager_id = m.id AND u.active
                                               LIMIT 1)) AS team
               FROM managers m WHERE $1::text[] IS NULL OR m.id = ANY($1))
           SELECT c.id AS manager_id, c.team,
                  count(i.id) FILTER (WHERE i.kind = 'call') AS calls,
                  count(i.id) FILTER (WHERE i.kind = 'call' AND i.auto_status = 'answered') AS answered,
                  count(i.id) FILTER (WHERE i.kind = 'call' AND i.auto_status IN ('missed', 'abandoned')) AS missed,
                  count(i.id) FILTER (WHERE i.kind = 'email') AS emails,
                  count(i.id) FILTER (WHERE i.outcome IS NOT NULL) AS confirmed,
                  count(i.id) FILTER (WHERE i.outcome IS NULL) AS awaiting,
                  (SELECT count(*) FROM meetings mt WHERE mt.manager_id = c.id
                     AND mt.meeting_date >= $3 AND mt.meeting_date < $4) AS meetings
           FROM chosen c
           LEFT JOIN interactions i ON i.manager_id = c.id AND NOT i.internal AND i.phase IS NOT NULL
                AND (i.started_at AT TIME ZONE $5)::date >= $3 AND (i.started_at AT TIME ZONE $5)::date < $4
           WHERE $2::text IS NULL OR c.team = $2
           GROUP BY c.id, c.team ORDER BY c.id""",
        within,
        team,
        start,
        end,
        ctx.deps.timezone,
    )
    managers: list[dict[str, Any]] = []
    for row in rows:
        figures = dict(row)
        records = "/api/interactions?" + urlencode({"manager_id": row["manager_id"], "period": period})
        managers.append(figures | {"records": records})
    return Result({"period": period, "from": start.isoformat(), "until": end.isoformat(), "managers": managers})
