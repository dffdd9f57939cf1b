"""The live dashboard: a supervisor's team (or a manager's own figures) with plan progress, key figures that link
to their records, per-manager figures, daily charts of the last weeks and alerts; kept current by server-sent
events whenever the one watcher of the process (live_figures.py) sees the classifier change something."""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import orjson
from aiohttp import web
from aiohttp.client_exceptions import ClientConnectionResetError

from services.reporting import figures
from services.reporting.live_figures import LIVE
from services.reporting.plan_targets import labelled, plans_within, today_of
from services.reporting.queries import periods_of
from services.reporting.report_managers import parse_period
from services.reporting.views import Ctx, Result

# The figures a glance needs, in this order (those the read API does not offer are left out).
KEY_FIGURES = (
    "calls_in",
    "calls_out",
    "calls_missed",
    "callback_sla_share",
    "tasks_overdue",
    "backlog",
    "meetings_complete",
    "deals_won",
    "data_completeness",
)
CHARTS: dict[str, tuple[str, ...]] = {
    "Calls per day": ("calls_in", "calls_out", "calls_missed"),
    "Meetings and deals per day": ("meetings_complete", "deals_won"),
}
CHART_DAYS = 28
NOT_DEFINED = "\u2013"  # an en dash: a figure with nothing to count (a median of no callbacks)


def shown(name: str, value: float | None) -> str:
    """A figure as a person reads it: shares in per cent, durations in s/min/h/d, counts as they are."""
    if value is None:
        return NOT_DEFINED
    if name.endswith("_share") or name == "data_completeness":
        return f"{round(value * 100)} %"
    if name.endswith("_s"):
        seconds = int(value)
        if seconds < 60:
            return f"{seconds} s"
        if seconds < 3600:
            return f"{seconds // 60} min"
        if seconds < 86400:
            return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
        return f"{seconds // 86400} d {seconds % 86400 // 3600} h"
    if name.endswith("_amount"):
        return f"{value:,.0f}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def alerts_of(
    rows: list[dict[str, Any]], backlog_day_ago: dict[str, int], backlog_min: int, completeness_below: float
) -> list[dict[str, Any]]:
    """What needs a supervisor now, worst first: overdue callbacks, a confirmation backlog larger than a day ago
    (and at least `backlog_min`), a share of complete contact data below `completeness_below`."""
    out: list[dict[str, Any]] = []
    for row in rows:
        who, values = row["label"], row["values"]

        def alert(level: str, figure: str, text: str, row: dict[str, Any] = row) -> None:
            out.append(
                {"level": level, "manager_id": row["manager_id"], "text": text, "records": row["links"].get(figure)}
            )

        overdue = values.get("tasks_overdue")
        if overdue:
            alert("bad", "tasks_overdue", f"{who}: {overdue} overdue callback{'s' if overdue != 1 else ''}")
        backlog = values.get("backlog")
        before = backlog_day_ago.get(row["manager_id"], 0)
        if backlog is not None and backlog >= backlog_min and backlog > before:
            alert("warn", "backlog", f"{who}: {backlog} to confirm, up from {before} a day ago")
        complete = values.get("data_completeness")
        if complete is not None and complete < completeness_below:
            alert("warn", "data_completeness", f"{who}: contact data {round(complete * 100)} % complete")
    order = {"bad": 0, "warn": 1}
    return sorted(out, key=lambda a: order[a["level"]])


async def backlog_a_day_ago(pool: asyncpg.Pool, managers: list[str] | None, now: datetime) -> dict[str, int]:
    """Per manager, how many finished interactions awaited confirmation 24 hours ago: those still waiting that had
    finished by then, and those confirmed since."""
    rows = await pool.fetch(
        """SELECT i.manager_id, count(*) AS n FROM interactions i
           WHERE ($1::text[] IS NULL OR i.manager_id = ANY($1)) AND i.manager_id IS NOT NULL
             AND NOT i.internal AND i.auto_status IS NOT NULL AND (i.kind = 'email' OR i.phase = 'ended')
             AND coalesce(i.ended_at, i.started_at) <= $2
             AND (i.outcome IS NULL OR i.outcome_at > $2)
           GROUP BY i.manager_id""",
        managers,
        now - timedelta(days=1),
    )
    return {r["manager_id"]: r["n"] for r in rows}


def chosen_period(ctx: Ctx, today: date) -> tuple[str, date, date]:
    raw = ctx.request.query.get("period") or periods_of(today)[2]
    start, end = parse_period(raw)
    return raw, start, end


async def board_scope(ctx: Ctx) -> tuple[str | None, list[str] | None]:
    """The team the dashboard shows (`team=`, else a supervisor's own) and the managers it may show; its export
    reads the same."""
    team = ctx.request.query.get("team") or (ctx.user.team if ctx.reach == "team" else None)
    return team, await ctx.managers_of(team)


async def dashboard_data(ctx: Ctx) -> dict[str, Any]:
    """Everything the dashboard shows, for the caller's reach (and `team`, `period` when given). A team's figures
    and charts are its managers' days in it (figures.manager_figures)."""
    pool, tz = ctx.deps.pool, ctx.deps.timezone
    today = today_of(ctx)
    period, start, end = chosen_period(ctx, today)
    team, managers = await board_scope(ctx)
    names = await pool.fetch(
        "SELECT id, name FROM managers WHERE $1::text[] IS NULL OR id = ANY($1)",
        managers,
    )
    # Managers are staff, not clients, yet an analyst's view stays ids only, like every feed analysts read.
    label = {r["id"]: r["name"] for r in names} if ctx.sees_personal_data else {}
    found = await figures.manager_figures(pool, managers, start, end, tz, team, now=ctx.now)
    available = [n for n in KEY_FIGURES if n in figures.FIGURES]
    rows: list[dict[str, Any]] = []
    for row in found:
        figs = row["figures"]
        rows.append(
            {
                "manager_id": row["manager_id"],
                "label": label.get(row["manager_id"]) or row["manager_id"],
                "team": row["team"],
                "values": {n: figs[n]["value"] for n in available},
                "shown": {n: shown(n, figs[n]["value"]) for n in available},
                "links": {n: figs[n]["records"] for n in figs},
            }
        )
    totals = figures.team_total(found, team or "", figures.period_name(start, end))
    own = len(rows) == 1 and ctx.reach == "own"
    key = [
        {
            "name": n,
            "label": figures.LABELS.get(n, n),
            "value": totals[n]["value"],
            "shown": shown(n, totals[n]["value"]),
            # One manager: straight to the records; a team: the team's records; everyone: that figure's column,
            # whose cells link to each manager's records.
            "records": rows[0]["links"][n] if own else totals[n]["records"] if team else f"#col-{n}",
        }
        for n in available
    ]
    ids = [r["manager_id"] for r in rows]
    plans = [labelled(asdict(p), label) for p in await plans_within(ctx, ids, None, team)] if ids else []
    wanted = [n for names_ in CHARTS.values() for n in names_ if n in figures.FIGURES]
    chart_from = today - timedelta(days=CHART_DAYS - 1)
    series = (
        await figures.daily_series(pool, ids, chart_from, today + timedelta(days=1), tz, wanted, team) if ids else {}
    )
    charts = [
        {
            "title": title,
            "days": [(chart_from + timedelta(days=d)).isoformat() for d in range(CHART_DAYS)],
            "series": [
                {"name": n, "label": figures.LABELS.get(n, n), "values": [v for _, v in series.get(n, [])]}
                for n in names_
                if n in series
            ],
        }
        for title, names_ in CHARTS.items()
    ]
    settings = ctx.deps.settings
    alerts = alerts_of(
        rows,
        await backlog_a_day_ago(pool, ids, ctx.now) if ids else {},
        settings.alert_backlog_min,
        settings.alert_completeness_below,
    )
    return {
        "period": period,
        "from": start.isoformat(),
        "until": end.isoformat(),
        "team": team,
        "scope": "own" if own else "team",
        "key": key,
        "managers": rows,
        "columns": [{"name": n, "label": figures.LABELS.get(n, n)} for n in available],
        "plans": plans,
        "alerts": alerts,
        "charts": charts,
        "updated_at": ctx.now.isoformat(),
    }


async def dashboard(ctx: Ctx) -> Result:
    return Result(await dashboard_data(ctx))


async def dashboard_events(ctx: Ctx) -> Result:
    """Server-sent events: `figures` with the dashboard's live part rendered (and its chart data) at the start and
    whenever it changes (rendered once per change for all the streams of the same reader and query: ten wall screens
    of one team cost one rendering); a comment line in between so a closed connection is noticed. The stream ends after
    `live_stream_s` and the browser reconnects by itself (`retry`)."""
    live = ctx.request.app[LIVE]
    settings = ctx.deps.settings
    template = ctx.deps.templates.get_template("dashboard_live.html")
    await dashboard_data(ctx)  # a bad period answers 400 before the stream starts

    # Everything the rendering depends on: who reads (their reach, team, whether they see names) and what they asked.
    who = ctx.user
    reader = ("dashboard", who.role, who.manager_id, who.team, ctx.request.query.get("period"),
              ctx.request.query.get("team"))  # fmt: skip

    async def render() -> bytes:
        data = await dashboard_data(ctx)
        return orjson.dumps({"html": template.render(**data, user=ctx.principal), "charts": data["charts"]})

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        await response.write(b"retry: 1000\n\n")
        ends = time.monotonic() + settings.live_stream_s
        seen = -1
        last: bytes | None = None
        try:
            while time.monotonic() < ends:
                version = live.version
                if version != seen:
                    seen = version
                    body = await live.shared(reader, version, render)
                    if body != last:
                        await response.write(b"event: figures\ndata: " + body + b"\n\n")
                        last = body
                        continue
                await response.write(b": unchanged\n\n")
                await live.wait(seen, min(15.0, max(0.0, ends - time.monotonic())))
        except (ConnectionResetError, ClientConnectionResetError):
            pass  # the page went away
        return response

    return Result({}, stream=stream)
