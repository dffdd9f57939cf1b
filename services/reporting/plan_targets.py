"""Plans: a supervisor sets a target per manager, metric and period (a `set_plan` action); everyone within reach
sees each plan's progress ("5 of 10 deals closed") and the pace the rest of the period needs."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from schemas.actions import SetPlan
from services.reporting import figures
from services.reporting.confirm_outcomes import stamp
from services.reporting.problems import FieldError, invalid
from services.reporting.queries import period_bounds, periods_of
from services.reporting.report_managers import parse_period
from services.reporting.views import Ctx, Result, field_errors

# Which maintained figure counts a plan's metric (FIGURES.md).
METRIC_FIGURE: dict[str, str] = {
    "contacts": "contacts_new",
    "meetings": "meetings_complete",
    "deals_closed": "deals_won",
}
METRIC_LABELS: dict[str, str] = {"contacts": "new contacts", "meetings": "meetings", "deals_closed": "deals closed"}


@dataclass(frozen=True, slots=True)
class Progress:
    """One plan as a page shows it. `pace`: what each remaining day (today included) needs, None once the period
    is over or the target is met; `expected`: where an even pace would stand by the end of today."""

    manager_id: str
    metric: str
    period: str
    target: int
    done: int | None
    share: float
    remaining: int
    days_left: int
    pace: int | None
    expected: int
    behind: bool
    records: str | None


def progress(
    manager_id: str, metric: str, period: str, target: int, done: int | None, today: date, records: str | None
) -> Progress:
    start, end = period_bounds(period)
    days = (end - start).days
    days_left = max(0, min(days, (end - today).days))
    counted = done or 0
    remaining = max(0, target - counted)
    elapsed = days - days_left + (1 if days_left else 0)  # today counts as a day one can still work
    expected = math.ceil(target * min(days, elapsed) / days) if days else target
    return Progress(
        manager_id=manager_id,
        metric=metric,
        period=period,
        target=target,
        done=done,
        share=min(1.0, counted / target) if target else 1.0,
        remaining=remaining,
        days_left=days_left,
        pace=math.ceil(remaining / days_left) if remaining and days_left else None,
        expected=expected,
        behind=done is not None and counted < expected and remaining > 0,
        records=records,
    )


def today_of(ctx: Ctx) -> date:
    return ctx.now.astimezone(ZoneInfo(ctx.deps.timezone)).date()


async def plans_within(
    ctx: Ctx, managers: list[str] | None, periods: list[str] | None, team: str | None = None
) -> list[Progress]:
    """The plans of the managers within reach for `periods` (None: those covering today), each with its progress
    counted by the maintained figures."""
    today = today_of(ctx)
    rows = await ctx.deps.pool.fetch(
        """SELECT p.manager_id, p.metric, p.period, p.target FROM plans p
           LEFT JOIN managers m ON m.id = p.manager_id
           WHERE ($1::text[] IS NULL OR p.manager_id = ANY($1)) AND p.period = ANY($2)
             AND ($3::text IS NULL OR m.team = $3)
           ORDER BY p.manager_id, p.period, p.metric""",
        managers,
        periods or list(periods_of(today)),
        team,
    )
    counted: dict[str, dict[str, dict[str, Any]]] = {}  # period → manager → figure name → {value, records}
    out: list[Progress] = []
    for row in rows:
        period = row["period"]
        if period not in counted:
            start, end = period_bounds(period)
            ids = sorted({r["manager_id"] for r in rows if r["period"] == period})
            found = await figures.manager_figures(ctx.deps.pool, ids, start, end, ctx.deps.timezone, now=ctx.now)
            counted[period] = {f["manager_id"]: dict(f["figures"]) for f in found}
        figure = counted[period].get(row["manager_id"], {}).get(figures.PLAN_METRICS[row["metric"]])
        value = figure["value"] if figure else None
        out.append(
            progress(
                row["manager_id"],
                row["metric"],
                period,
                row["target"],
                None if value is None else int(value),
                today,
                figure["records"] if figure else None,
            )
        )
    return out


def labelled(plan: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A plan with the words a page shows: whose it is (a name where the reader may see it) and of what."""
    return plan | {
        "label": names.get(plan["manager_id"], plan["manager_id"]),
        "metric_label": METRIC_LABELS[plan["metric"]],
    }


async def manager_choices(ctx: Ctx, managers: list[str] | None) -> list[dict[str, Any]]:
    rows = await ctx.deps.pool.fetch(
        """SELECT id, name, team FROM managers WHERE active AND ($1::text[] IS NULL OR id = ANY($1))
           ORDER BY name, id""",
        managers,
    )
    return [dict(r) for r in rows]


async def plans(ctx: Ctx) -> Result:
    raw = ctx.request.query.get("period")
    periods = None
    if raw:
        parse_period(raw)
        periods = [raw]
    managers = await ctx.managers()
    found = [labelled(asdict(p), {}) for p in await plans_within(ctx, managers, periods)]
    if ctx.sees_personal_data:
        names = {r["id"]: r["name"] for r in await manager_choices(ctx, sorted({p["manager_id"] for p in found}))}
        found = [labelled(p, names) for p in found]
    today = today_of(ctx)
    day, week, month = periods_of(today)
    can_set = ctx.can("change", "plan")
    return Result(
        {
            "plans": found,
            "periods": {"day": day, "week": week, "month": month},
            "metrics": METRIC_LABELS,
            "managers": await manager_choices(ctx, managers) if can_set else [],
            "can_set": can_set,
            "period": raw or "",
            "next_week": periods_of(today + timedelta(days=7))[1],
        }
    )


async def set_plan(ctx: Ctx) -> Result:
    data = await ctx.input()
    if "target" in data and isinstance(data["target"], str) and data["target"].strip().isdigit():
        data["target"] = int(data["target"])
    managers = await ctx.managers()
    if data.get("manager_id") and managers is not None and data["manager_id"] not in managers:
        raise invalid([FieldError("manager_id", "not a manager of your team")])
    try:
        action = SetPlan.model_validate(stamp(ctx) | data)
    except ValidationError as exc:
        raise invalid([e for e in field_errors(exc) if e.field not in ("event_id", "actor_id", "occurred_at")]) from exc
    await ctx.send(action)
    sent = {"event_id": action.event_id, "status": "accepted"} | action.model_dump(
        mode="json", include={"manager_id", "metric", "period", "target"}
    )
    return Result(sent, 202, redirect=f"/plans?period={action.period}&sent=plan")
