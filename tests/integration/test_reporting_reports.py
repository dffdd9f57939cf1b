"""Figures per manager for a period, within the caller's reach, each linking to the records it counts."""

from __future__ import annotations

import pytest

from services.reporting.accounts import issue_api_token
from tests.integration.reporting_world import ACCOUNTS, Reporting, bearer, log_in, problem_of

pytestmark = pytest.mark.integration


async def test_a_supervisor_gets_the_teams_figures_and_each_links_to_its_records(reporting: Reporting) -> None:
    sue = bearer(await issue_api_token(reporting.pool, ACCOUNTS["supervisor"][0]))
    async with reporting.client.get("/api/reports/managers", params={"period": "2026-11-30"}, headers=sue) as r:
        assert r.status == 200
        report = await r.json()
    figures = {m["manager_id"]: m for m in report["managers"]}
    assert set(figures) == {"m-ann", "m-bob"}, "Cid is in another team"
    ann = {name: f["value"] for name, f in figures["m-ann"]["figures"].items()}
    assert (ann["calls_in"], ann["calls_out"], ann["calls_answered"], ann["calls_missed"]) == (2, 1, 1, 1)
    assert (ann["emails_in"], ann["callbacks_due"], ann["tasks_open"], ann["tasks_overdue"]) == (1, 2, 2, 1)
    assert (ann["backlog"], ann["meetings"], ann["callback_median_s"]) == (3, 0, None)
    assert report["team_total"] is None, "no team asked for"
    link = figures["m-ann"]["figures"]["calls_in"]["records"]
    async with reporting.client.get(link.replace("/reports/", "/api/reports/"), headers=sue) as r:
        records = (await r.json())["items"]
    assert len(records) == ann["calls_in"]
    assert {(i["manager_id"], i["kind"], i["direction"]) for i in records} == {("m-ann", "call", "inbound")}
    async with reporting.client.get(
        "/api/reports/records",
        params={"figure": "calls_in", "period": "2026-11-30", "manager_id": "m-cid"},
        headers=sue,
    ) as r:
        assert (await r.json())["items"] == [], "Cid is in another team: none of his records"


async def test_an_analyst_reads_every_team_or_one_and_a_week_or_a_month(reporting: Reporting) -> None:
    ada = bearer(await issue_api_token(reporting.pool, ACCOUNTS["analyst"][0]))
    for params, expect in (
        ({"period": "2026-W49"}, ["m-ann", "m-bob", "m-cid"]),
        ({"period": "2026-11", "team": "west"}, ["m-cid"]),
    ):
        async with reporting.client.get("/api/reports/managers", params=params, headers=ada) as r:
            assert [m["manager_id"] for m in (await r.json())["managers"]] == expect
    async with reporting.client.get("/api/reports/managers", params={"period": "2026-12"}, headers=ada) as r:
        assert {m["figures"]["calls_in"]["value"] for m in (await r.json())["managers"]} == {0}


@pytest.mark.parametrize("period", ["", "2026-13", "2026-W60", "2026-02-31", "yesterday"])
async def test_a_period_that_is_not_one_is_refused_naming_it(reporting: Reporting, period: str) -> None:
    ada = bearer(await issue_api_token(reporting.pool, ACCOUNTS["analyst"][0]))
    async with reporting.client.get("/api/reports/managers", params={"period": period}, headers=ada) as r:
        assert r.status == 400
        assert (await problem_of(r))["errors"][0]["field"] == "period"


async def test_the_figures_page_opens_on_today_for_a_supervisor(reporting: Reporting) -> None:
    await log_in(reporting.client, ACCOUNTS["supervisor"][0])
    page = await (await reporting.client.get("/reports")).text()
    assert 'value="2026-11-30"' in page
    assert "m-ann" in page
    assert "m-cid" not in page
    assert "/reports/records?manager_id=m-ann&amp;figure=calls_in&amp;period=2026-11-30" in page
