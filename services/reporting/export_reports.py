"""The managers report (its page: report_managers.py) and the dashboard's daily figures as CSV/XLSX downloads,
from the figures.py reads the pages use. Ids and figures only (no personal data): analysts may export them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import xlsxwriter
from aiohttp import web

from services.reporting import figures
from services.reporting.plan_targets import today_of
from services.reporting.problems import FieldError, Problem
from services.reporting.report_managers import parse_period
from services.reporting.views import Ctx, Result
from services.reporting.watch_dashboard import CHART_DAYS, NOT_DEFINED, board_scope

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
CHUNK = 64 * 1024


def csv_chunks(header: Sequence[str] | None, rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """CSV in chunks of about CHUNK bytes; with a `header`, a file's start: a BOM (so spreadsheet programs read
    it as UTF-8) and the header line. None continues a file already started."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header is not None:
        buffer.write("\ufeff")
        writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
        if buffer.tell() >= CHUNK:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def xlsx_bytes(
    sheet: str, header: Sequence[str], rows: Sequence[Sequence[Any]], links: Sequence[Sequence[str | None]] = ()
) -> bytes:
    """One sheet of figures (numbers stay numbers); with `links`, a second sheet "Records" of the same shape whose
    cells link to the records each figure counts."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = book.add_format({"bold": True, "bg_color": "#F0F2F5"})
    main = book.add_worksheet(sheet)
    main.write_row(0, 0, header, bold)
    main.freeze_panes(1, 1)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if value is not None:
                main.write(r, c, value)
    main.set_column(0, 0, 16)
    main.set_column(1, len(header), 12)
    if links:
        sheet2 = book.add_worksheet("Records")
        sheet2.write_row(0, 0, header, bold)
        for r, (row, urls) in enumerate(zip(rows, links, strict=True), start=1):
            for c, value in enumerate(row):
                url = urls[c] if c < len(urls) else None
                if url:
                    sheet2.write_url(r, c, url, string=NOT_DEFINED if value is None else str(value))
                elif value is not None:
                    sheet2.write(r, c, value)
    book.close()
    return buffer.getvalue()


def download(chunks: Iterable[bytes], fmt: str, filename: str) -> Result:
    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": FORMATS[fmt],
                "Content-Disposition": f'attachment; filename="{filename}.{fmt}"',
                "Cache-Control": "no-store",
            }
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
        return response

    return Result({}, stream=stream)


def chosen_format(ctx: Ctx) -> str:
    fmt = ctx.request.query.get("format", "csv")
    if fmt not in FORMATS:
        raise Problem(400, "Invalid query parameter", "format must be csv or xlsx", [FieldError("format", "csv|xlsx")])
    return fmt


def absolute(ctx: Ctx, link: str | None) -> str | None:
    """A records link a spreadsheet can open: on the address people use (public_url), else the one asked on."""
    if not link or link.startswith("#"):
        return link
    base = ctx.deps.settings.public_url.rstrip("/") or f"{ctx.request.scheme}://{ctx.request.host}"
    return base + link


async def managers_table(ctx: Ctx) -> dict[str, Any]:
    """The managers report as the page shows it (report_managers.py reads the same figures.manager_figures): per
    manager every figure of the period with its records link, and the total of all of them."""
    period = ctx.request.query.get("period") or today_of(ctx).isoformat()
    start, end = parse_period(period)
    team = ctx.request.query.get("team") or None
    found = await figures.manager_figures(
        ctx.deps.pool, await ctx.managers_of(team), start, end, ctx.deps.timezone, team, now=ctx.now
    )
    names = list(figures.FIGURES)
    rows = [
        {
            "manager_id": r["manager_id"],
            "team": r["team"],
            "values": [r["figures"][n]["value"] for n in names],
            "links": [r["figures"][n]["records"] for n in names],
        }
        for r in found
    ]
    totals = figures.team_total(found, team or "", figures.period_name(start, end))
    return {
        "period": period,
        "team": team or "",
        "names": names,
        "labels": [figures.LABELS.get(n, n) for n in names],
        "managers": rows,
        "total": [totals[n]["value"] for n in names],
    }


async def export_managers(ctx: Ctx) -> Result:
    fmt = chosen_format(ctx)
    table = await managers_table(ctx)
    rows = [[r["manager_id"], r["team"], *r["values"]] for r in table["managers"]]
    rows.append(["total", table["team"] or None, *table["total"]])
    name = f"managers-{table['period']}" + (f"-{table['team']}" if table["team"] else "")
    if fmt == "csv":
        return download(csv_chunks(["manager_id", "team", *table["names"]], rows), fmt, name)
    links = [[None, None, *(absolute(ctx, link) for link in r["links"])] for r in table["managers"]]
    links.append([])
    return download([xlsx_bytes("Managers", ["Manager", "Team", *table["labels"]], rows, links)], fmt, name)


async def export_dashboard(ctx: Ctx) -> Result:
    """The dashboard's daily series over its chart window, for the managers and team the dashboard shows (the same
    `team=`): one row per day, one column per figure."""
    fmt = chosen_format(ctx)
    today = today_of(ctx)
    start = today - timedelta(days=CHART_DAYS - 1)
    names = [n for n in figures.FIGURES if n not in figures.CURRENT]  # the current state has no history
    team, managers = await board_scope(ctx)
    series = await figures.daily_series(
        ctx.deps.pool, managers, start, today + timedelta(days=1), ctx.deps.timezone, names, team
    )
    rows = [
        [(start + timedelta(days=d)).isoformat(), *(series[n][d][1] for n in names if n in series)]
        for d in range(CHART_DAYS)
    ]
    header = [n for n in names if n in series]
    name = f"daily-{start.isoformat()}-{today.isoformat()}" + (f"-{team}" if team else "")
    if fmt == "csv":
        return download(csv_chunks(["day", *header], rows), fmt, name)
    return download([xlsx_bytes("Daily", ["Day", *(figures.LABELS.get(n, n) for n in header)], rows)], fmt, name)
