"""The records behind a figure (`GET /api/reports/records?figure=…&period=…&manager_id=…|team=…`): exactly the rows
the classifier counted for it (the same conditions, count_figures.py), within the caller's reach. Ids, times and
statuses only; each links to its record."""

from __future__ import annotations

from typing import Any

from services.classifier.count_figures import COUNTED, INTERACTIONS, TIMED, Source
from services.reporting.figures import AWAITING, FIGURES, LABELS, RECORDS_OF
from services.reporting.problems import FieldError, Problem
from services.reporting.queries import jsonable
from services.reporting.report_managers import parse_period_or_range
from services.reporting.views import Ctx, Result

LIMIT = 1000
# What a listed record shows, per table alias: PII-free columns, and the page of the record itself.
_SHOWN = {
    "i": ("i.kind, i.direction, i.auto_status AS status, i.outcome, i.flag", "/api/interactions/{id}"),
    "t": (
        "t.kind, t.status, t.due_at, t.closed_at, t.response_s, t.interaction_id",
        "/api/interactions/{interaction_id}",
    ),
    "m": ("'meeting' AS kind, m.contact_id", "/contacts/{contact_id}"),
    "c": ("'contact' AS kind, c.is_lead", "/contacts/{id}"),
    "d": ("'deal' AS kind, d.status, d.amount, d.contact_id", "/contacts/{contact_id}"),
}
_TASKS_OPEN = Source("tasks t", "t.assignee_id", "t.created_at", "t.status = 'open'")
_CURRENT: dict[str, tuple[Source, str]] = {
    "tasks_open": (_TASKS_OPEN, "true"),
    "tasks_overdue": (_TASKS_OPEN, "t.due_at < :now"),
    "backlog": (INTERACTIONS, AWAITING),
    "backlog_oldest_s": (INTERACTIONS, AWAITING),
}


def source_of(figure: str) -> tuple[Source, str, bool]:
    """The rows a figure counts: source, condition, and whether the period applies (not to the current state)."""
    if figure in _CURRENT:
        source, where = _CURRENT[figure]
        return source, where, False
    counted = RECORDS_OF.get(figure, figure)
    if counted in COUNTED:
        return (*COUNTED[counted], True)
    if counted in TIMED:
        return (*TIMED[counted], True)
    raise Problem(400, "Invalid query parameter", f"unknown figure {figure!r}", [FieldError("figure", "unknown")])


async def figure_records(ctx: Ctx) -> Result:
    query = ctx.request.query
    figure = query.get("figure", "")
    source, where, dated = source_of(figure)
    start, end = parse_period_or_range(query.get("period"))
    team = query.get("team") or None
    within = await ctx.managers_of(team)
    wanted = [query["manager_id"]] if query.get("manager_id") else None
    if team:
        # A team's records: of those in it now, and (for its figures over days) of those who were in it then; with a
        # manager_id, that manager's among them (a team page's figure of one manager).
        of_team = [
            r["id"]
            for r in await ctx.deps.pool.fetch(
                """SELECT id FROM managers WHERE team = $1
                   UNION SELECT manager_id FROM manager_daily WHERE team = $1 AND $2 AND day >= $3 AND day < $4""",
                team,
                dated,
                start,
                end,
            )
        ]
        wanted = [m for m in of_team if wanted is None or m in wanted]
    chosen = within if wanted is None else [m for m in wanted if within is None or m in within]
    alias = source.table.split()[1]
    shown, link = _SHOWN[alias]
    args: list[Any] = [chosen]
    condition = source.where
    if dated:
        # The days [start, end) as the classifier placed rows on them: local days in TOUCHPOINT_TIMEZONE.
        args += [start, end] if source.is_date else [start, end, ctx.deps.timezone]
        bounds = (
            ("$2", "$3")
            if source.is_date
            else ("($2::date::timestamp AT TIME ZONE $4)", "($3::date::timestamp AT TIME ZONE $4)")
        )
        condition += f" AND {source.at} >= {bounds[0]} AND {source.at} < {bounds[1]}"
        if team:
            # Only the rows of days the manager spent in the team: a day belongs to the team they were in then.
            args.append(team)
            day = source.at if source.is_date else f"({source.at} AT TIME ZONE $4)::date"
            in_team = f"md.manager_id = {source.manager} AND md.day = {day} AND md.team = ${len(args)}"
            condition += f" AND EXISTS (SELECT 1 FROM manager_daily md WHERE {in_team})"  # noqa: S608 - fixed SQL
    if ":now" in where:  # the reporting clock's now, as a parameter after the others
        args.append(ctx.now)
        where = where.replace(":now", f"${len(args)}")
    rows = await ctx.deps.pool.fetch(
        f"""SELECT {alias}.id, {source.manager} AS manager_id, {source.at} AS at, {shown}
            FROM {source.table}
            WHERE {source.manager} IS NOT NULL AND ($1::text[] IS NULL OR {source.manager} = ANY($1))
              AND {condition} AND {where}
            ORDER BY at DESC, {alias}.id LIMIT {LIMIT}""",  # noqa: S608 - fixed conditions, values are parameters
        *args,
    )
    items: list[dict[str, Any]] = []
    for row in rows:
        item = jsonable(row)
        item["link"] = link.format(**item) if "{interaction_id}" not in link or item["interaction_id"] else None
        items.append(item)
    return Result(
        {
            "figure": figure,
            "label": LABELS.get(figure, figure),
            "known": list(FIGURES),
            "from": start.isoformat(),
            "until": end.isoformat(),
            "items": items,
            "truncated": len(items) == LIMIT,
        }
    )
