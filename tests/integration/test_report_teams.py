"""A team's figures are its managers' days in it: a manager moved to another team keeps their past days in the old
one (the classifier's manager-daily rows and team-daily records, even for a call replayed after the move), and the
report, dashboard, its export and the records behind a team figure all say the same. The real classifier
(Store.apply_batch) and the reporting app on the real PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from schemas.actions import UpsertManager
from schemas.topics import REPORTS_TEAM_DAILY
from services.classifier.correlate import interaction_id
from services.classifier.store import Store
from services.reporting.accounts import issue_api_token
from tests.integration.classifier_feed import DirectFeed, apply_in_batches
from tests.integration.reporting_world import ACCOUNTS, NOW, Reporting, bearer, log_in
from tests.unit.classifier.factories import POLICY, answered

pytestmark = pytest.mark.integration

SUNDAY = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)  # the day before NOW's, when Bob was still in team east
MOVED = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Bob moves to team west on NOW's day


def bob(at: datetime, team: str, n: int) -> UpsertManager:
    return UpsertManager(event_id=f"bob-{n}", actor_id="admin", occurred_at=at, manager_id="m-bob", name="Bob Stone",
                         extensions=("102",), on_duty=True, team=team)  # fmt: skip


async def move_bob(reporting: Reporting) -> None:
    """Bob takes a call on Sunday in team east, moves to west on Monday; a second Sunday call arrives only after the
    move (a backlog replayed late)."""
    feed = DirectFeed()
    feed.add(bob(datetime(2026, 11, 28, 9, tzinfo=UTC), "east", 0))
    feed.add(*answered("sun-1", agent="102", counterpart="+14155550901", t0=SUNDAY))
    feed.add(bob(MOVED, "west", 1))
    feed.add(*answered("sun-2", agent="102", counterpart="+14155550902", t0=SUNDAY.replace(hour=11)))
    store = Store(reporting.pool, "teams", reporting.kafka.topics, POLICY, clock=lambda: NOW)
    await apply_in_batches(store, feed.records, [len(feed.records) - 4])


async def team_days(reporting: Reporting) -> dict[str, dict[str, Any]]:
    """The latest team-daily record per key, as the outbox holds it for the topic."""
    rows = await reporting.pool.fetch(
        "SELECT key, payload FROM outbox WHERE topic = $1 ORDER BY id", reporting.kafka.topics(REPORTS_TEAM_DAILY)
    )
    return {r["key"]: json.loads(r["payload"]) for r in rows}


async def api(reporting: Reporting, path: str, role: str) -> Any:
    headers = bearer(await issue_api_token(reporting.pool, ACCOUNTS[role][0]))
    async with reporting.client.get(path, headers=headers) as response:
        assert response.status == 200, await response.text()
        return await (response.json() if response.content_type == "application/json" else response.text())


async def test_a_moved_manager_keeps_past_days_in_the_old_team_on_topics_pages_exports_and_records(
    reporting: Reporting,
) -> None:
    await move_bob(reporting)
    rows = await reporting.pool.fetch(
        "SELECT day, team FROM manager_daily WHERE manager_id = 'm-bob' AND day < '2026-12-01'"
    )
    teams = {r["day"]: r["team"] for r in rows}
    assert teams == {date(2026, 11, 29): "east", date(2026, 11, 30): "west"}, "each day in the team Bob was in"

    published = await team_days(reporting)
    for team in ("east", "west"):
        month = sum(r["calls_in"] for k, r in published.items() if k.startswith(f"{team}|2026-11-"))
        report = await api(reporting, f"/api/reports/managers?period=2026-11&team={team}", "admin")
        assert report["team_total"]["calls_in"]["value"] == month, f"{team}: the page's month is its days' sum"
        board = await api(reporting, f"/api/dashboard?period=2026-11&team={team}", "admin")
        assert {k["name"]: k["value"] for k in board["key"]}["calls_in"] == month, team
        records = await api(reporting, f"/api/reports/records?figure=calls_in&period=2026-11&team={team}", "admin")
        assert len(records["items"]) == month, f"{team}: the records behind the team's figure"
    east = await api(reporting, "/api/reports/managers?period=2026-11&team=east", "supervisor")
    bobs = {m["manager_id"]: m["figures"]["calls_in"] for m in east["managers"]}
    assert bobs["m-bob"]["value"] == 2, "east's supervisor sees Bob's two Sunday calls, made while he was in east"
    behind = await api(reporting, "/api" + bobs["m-bob"]["records"], "supervisor")
    assert len(behind["items"]) == 2, "and follows the figure to exactly those calls"
    west = await api(reporting, "/api/reports/managers?period=2026-11&team=west", "admin")
    assert {m["manager_id"]: m["figures"]["calls_in"]["value"] for m in west["managers"]}["m-bob"] == 1
    sunday = await api(reporting, "/api/reports/records?figure=calls_in&period=2026-11-29&team=east", "supervisor")
    assert {i["id"] for i in sunday["items"]} == {
        str(interaction_id("generic", "sun-1")),
        str(interaction_id("generic", "sun-2")),
    }


async def test_the_dashboard_export_of_a_team_holds_the_dashboards_figures_for_that_team(
    reporting: Reporting,
) -> None:
    await move_bob(reporting)
    for team, role in (("west", "admin"), ("east", "admin"), ("east", "supervisor")):
        board = await api(reporting, f"/api/dashboard?team={team}", role)
        (calls,) = [c for c in board["charts"] if c["title"] == "Calls per day"]
        shown = {day: {s["name"]: s["values"][n] for s in calls["series"]} for n, day in enumerate(calls["days"])}
        text = await api(reporting, f"/api/dashboard/export?format=csv&team={team}", role)
        lines = text.lstrip("\ufeff").splitlines()
        header = lines[0].split(",")
        exported = {row[0]: dict(zip(header, row, strict=True)) for row in (line.split(",") for line in lines[1:])}
        assert set(exported) == set(shown)
        for day, figures in shown.items():
            for name in ("calls_in", "calls_out", "calls_missed"):
                assert float(exported[day][name]) == figures[name], f"{team} {day} {name}"
        assert sum(float(r["calls_in"]) for r in exported.values()) > 0, f"{team} has calls to compare"
    assert await api(reporting, "/api/dashboard/export?format=csv&team=east", "admin") != await api(
        reporting, "/api/dashboard/export?format=csv&team=west", "admin"
    )
    await log_in(reporting.client, ACCOUNTS["admin"][0])
    async with reporting.client.get("/dashboard?team=west") as response:
        page = await response.text()
    assert "/dashboard/export?team=west&amp;format=csv" in page, "the page's download is of the team it shows"
