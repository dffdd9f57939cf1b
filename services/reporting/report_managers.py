"""Figures per manager for a day, an ISO week or a month (`GET /api/reports/managers?period=…[&team=T]`), each
with a link to the records it counts, read from the figures the classifier keeps (figures.py). PII-free."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from services.reporting.figures import FIGURES, GROUPS, LABELS, manager_figures, period_name, team_total
from services.reporting.problems import FieldError, Problem
from services.reporting.queries import period_bounds
from services.reporting.views import Ctx, Result

PERIOD = re.compile(
    r"^\d{4}-(?:(?:0[1-9]|1[0-2])|W(?:0[1-9]|[1-4]\d|5[0-3])|(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]))$"
)
RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


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


def parse_period_or_range(raw: str | None) -> tuple[date, date]:
    """A period, or the days `2026-11-03..2026-11-17` (the second one not included) that figures.py links to."""
    if raw is not None and (m := RANGE.match(raw)):
        try:
            start, end = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2))
        except ValueError as exc:
            raise Problem(400, "Invalid query parameter", str(exc), [FieldError("period", str(exc))]) from exc
        if end <= start:
            raise Problem(400, "Invalid query parameter", "empty range", [FieldError("period", "empty range")])
        return start, end
    return parse_period(raw)


async def managers_report(ctx: Ctx) -> Result:
    period = ctx.request.query.get("period")
    if period is None and not ctx.api:  # the page opens on today
        period = ctx.now.date().isoformat()
    start, end = parse_period(period)
    team = ctx.request.query.get("team") or None
    found = await manager_figures(
        ctx.deps.pool, await ctx.managers_of(team), start, end, ctx.deps.timezone, team, now=ctx.now
    )
    managers: list[dict[str, Any]] = [
        {"manager_id": m["manager_id"], "team": m["team"], "figures": m["figures"]} for m in found
    ]
    totals = team_total(found, team, period_name(start, end)) if team else None
    return Result(
        {
            "period": period,
            "from": start.isoformat(),
            "until": end.isoformat(),
            "names": list(FIGURES),
            "groups": [{"title": title, "names": list(names)} for title, names in GROUPS],
            "labels": LABELS,
            "managers": managers,
            "team_total": totals,
        }
    )
