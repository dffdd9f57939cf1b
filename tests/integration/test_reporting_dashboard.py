"""Plans, the live dashboard, exports and campaign audiences on the real PostgreSQL and Kafka: a supervisor's plan
goes out as a set_plan action, the dashboard's event stream brings a changed figure within 2 s of the change, the
CSV and XLSX carry the figures the page shows, and an audience leaves out exactly the contacts it must, per reason."""

from __future__ import annotations

import io
import re
import time
import uuid
import zipfile
from datetime import timedelta
from typing import Any

import orjson
import pytest

from schemas.actions import ACTION_ADAPTER, SetPlan
from schemas.topics import ACTIONS
from services.classifier.update_figures import recompute
from services.reporting.accounts import issue_api_token
from services.reporting.figures import FIGURES
from tests.integration.helpers import read_topic
from tests.integration.reporting_world import ACCOUNTS, BOB_EMAIL, NOW, Reporting, bearer, log_in, problem_of

pytestmark = pytest.mark.integration


async def token(reporting: Reporting, role: str) -> dict[str, str]:
    return bearer(await issue_api_token(reporting.pool, ACCOUNTS[role][0]))


async def test_a_supervisor_sets_a_plan_for_the_team_and_only_for_the_team(reporting: Reporting) -> None:
    sue = await token(reporting, "supervisor")
    plan = {"manager_id": "m-bob", "metric": "deals_closed", "period": "2026-12", "target": 10}
    async with reporting.client.post("/api/plans", json=plan, headers=sue) as response:
        assert response.status == 202, await response.text()
        sent = await response.json()
    assert {k: sent[k] for k in plan} == plan
    async with reporting.client.post("/api/plans", json=plan | {"manager_id": "m-cid"}, headers=sue) as response:
        assert response.status == 422
        assert (await problem_of(response))["errors"][0]["field"] == "manager_id"
    async with reporting.client.post("/api/plans", json=plan | {"target": -1}, headers=sue) as response:
        assert response.status == 422
        assert [e["field"] for e in (await problem_of(response))["errors"]] == ["target"]
    records = await read_topic(reporting.kafka, reporting.kafka.topics(ACTIONS), expect=1)
    action = ACTION_ADAPTER.validate_json(records[0].value)
    assert isinstance(action, SetPlan)
    assert (action.manager_id, action.metric, action.period, action.target) == ("m-bob", "deals_closed", "2026-12", 10)
    assert records[0].key == b"m-bob|deals_closed|2026-12"


async def test_plans_show_progress_and_the_pace_needed_to_each_reader_within_reach(reporting: Reporting) -> None:
    async with reporting.client.get("/api/plans", headers=await token(reporting, "manager")) as response:
        plans = (await response.json())["plans"]
    assert [(p["metric"], p["period"], p["target"]) for p in plans] == [("contacts", "2026-11-30", 10),
                                                                       ("meetings", "2026-W49", 3)]  # fmt: skip
    day, week = plans
    assert day["days_left"] == 1 and day["pace"] == day["remaining"]  # the day's plan: all of it today
    assert week["days_left"] == 7  # NOW is the Monday of W49
    bob = bearer(await issue_api_token(reporting.pool, BOB_EMAIL))
    async with reporting.client.get("/api/plans", headers=bob) as response:
        assert (await response.json())["plans"] == [], "Ann's plans are not Bob's to see"
    await log_in(reporting.client, ACCOUNTS["supervisor"][0])
    async with reporting.client.get("/plans") as response:
        page = await response.text()
    assert "of 10 new contacts" in page and "Set plan" in page


async def test_the_dashboard_narrows_to_the_reader_and_hides_names_from_analysts(reporting: Reporting) -> None:
    async with reporting.client.get("/api/dashboard", headers=await token(reporting, "supervisor")) as response:
        team = await response.json()
    assert [m["manager_id"] for m in team["managers"]] == ["m-ann", "m-bob"]
    assert team["scope"] == "team" and team["managers"][0]["label"] == "Ann Lee"
    overdue = [a for a in team["alerts"] if a["manager_id"] == "m-ann" and "overdue callback" in a["text"]]
    assert overdue and overdue[0]["text"].startswith("Ann Lee: ") and overdue[0]["level"] == "bad"
    assert {c["title"] for c in team["charts"]} == {"Calls per day", "Meetings and deals per day"}
    async with reporting.client.get("/api/dashboard", headers=await token(reporting, "manager")) as response:
        own = await response.json()
    assert own["scope"] == "own" and [m["manager_id"] for m in own["managers"]] == ["m-ann"]
    assert all(not k["records"].startswith("#") for k in own["key"]), "a manager's figures lead to the records"
    async with reporting.client.get("/api/dashboard", headers=await token(reporting, "analyst")) as response:
        text = await response.text()
    assert "m-cid" in text
    for personal in ("Ann Lee", "Jane", "Doe", "+1415", "@client.test"):
        assert personal not in text


async def next_event(lines: Any, deadline: float) -> dict[str, Any]:
    event = None
    while time.monotonic() < deadline:
        line = (await lines.readline()).decode()
        if line.startswith("event: "):
            event = line[7:].strip()
        elif line.startswith("data: ") and event == "figures":
            parsed: dict[str, Any] = orjson.loads(line[6:])
            return parsed
    raise AssertionError("no figures event in time")


def tile(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}"><strong>([^<]*)</strong>', html)
    assert found, name
    return found.group(1)


async def test_the_event_stream_brings_a_changed_figure_within_two_seconds(reporting: Reporting) -> None:
    headers = await token(reporting, "manager")
    async with reporting.client.get("/api/dashboard/events?period=2026-11-30", headers=headers) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        first = await next_event(response.content, time.monotonic() + 5)
        before = int(tile(first["html"], "calls_in"))
        # What a classifier batch does: an interaction, its outbox record and the day's figures, in one transaction.
        iid = uuid.uuid4()
        async with reporting.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """INSERT INTO interactions (id, kind, source, external_id, direction, counterpart, manager_id,
                       phase, auto_status, started_at, ended_at)
                   VALUES ($1, 'call', 'generic', $2, 'inbound', '+14155550277', 'm-ann', 'ended', 'answered',
                           $3, $3)""",
                iid, str(iid), NOW - timedelta(minutes=1),
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO outbox (topic, key, payload) VALUES ('touchpoint.interactions.v1', $1, '{}')", str(iid)
            )
            await recompute(conn, [("m-ann", NOW.date())], "UTC")
        changed_at = time.monotonic()
        second = await next_event(response.content, changed_at + 5)
        took = time.monotonic() - changed_at
    assert int(tile(second["html"], "calls_in")) == before + 1
    assert took < 2.0, took


def page_figures(html: str, manager: str) -> dict[str, str]:
    """The manager's figures from every table of the report page (one per group of figures)."""
    rows = re.findall(rf'<tr data-manager="{manager}">(.*?)</tr>', html, re.S)
    assert rows, manager
    return {name: value for row in rows for name, value in re.findall(r'data-figure="([a-z_0-9]+)">([^<]*)</a>', row)}


async def test_the_exports_carry_the_figures_the_report_page_shows(reporting: Reporting) -> None:
    await log_in(reporting.client, ACCOUNTS["supervisor"][0])
    async with reporting.client.get("/reports?period=2026-11-30") as response:
        page = await response.text()
    assert "/reports/export?period=2026-11-30&amp;team=&amp;format=csv" in page
    async with reporting.client.get("/reports/export?period=2026-11-30&format=csv") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/csv")
        assert "attachment" in response.headers["Content-Disposition"]
        lines = (await response.text()).lstrip("\ufeff").splitlines()
    header = lines[0].split(",")
    rows = {line.split(",")[0]: dict(zip(header, line.split(","), strict=True)) for line in lines[1:]}
    assert set(rows) == {"m-ann", "m-bob", "total"}
    shown = page_figures(page, "m-ann")
    assert set(shown) == set(FIGURES)  # every figure, each in one of the page's tables
    for name in ("calls_in", "calls_out", "calls_missed", "tasks_overdue", "backlog"):
        assert shown[name] == rows["m-ann"][name], name
    async with reporting.client.get("/reports/export?period=2026-11-30&format=xlsx") as response:
        body = await response.read()
    book = zipfile.ZipFile(io.BytesIO(body))
    assert "xl/worksheets/sheet2.xml" in book.namelist()
    links = book.read("xl/worksheets/_rels/sheet2.xml.rels").decode()
    assert "/reports/records?manager_id=m-ann&amp;figure=calls_in&amp;period=2026-11-30" in links, "figures link"
    async with reporting.client.get(
        "/api/dashboard/export?format=csv", headers=await token(reporting, "analyst")
    ) as response:
        text = await response.text()
    assert response.status == 200 and len(text.splitlines()) == 29  # a header and four weeks of days
    assert "+1415" not in text


NAMES = {"in": ("Maria", "Garcia"), "silent": ("Tom", "Baker"), "wrong": ("Lena", "Fischer"),
         "blocked": ("Omar", "Haddad"), "bounced": ("Kim", "Park"), "withdrawn": ("Ivan", "Petrov"),
         "bad": ("Zoe", "Adams")}  # fmt: skip


async def seed_audience(reporting: Reporting) -> dict[str, uuid.UUID]:
    ids = {name: uuid.uuid4() for name in ("in", "silent", "wrong", "blocked", "bounced", "withdrawn", "bad")}
    async with reporting.pool.acquire() as conn, conn.transaction():
        for name, cid in ids.items():
            await conn.execute(
                """INSERT INTO contacts (id, owner_id, first_name, last_name, created_automatically)
                   VALUES ($1, 'm-ann', $2, $3, false)""",
                cid, *NAMES[name],
            )  # fmt: skip
        await conn.executemany(
            "INSERT INTO contact_addresses (address, contact_id, kind, undeliverable) VALUES ($1, $2, $3, $4)",
            [("+14155550301", ids["in"], "phone", False), ("in@client.test", ids["in"], "email", False),
             ("+14155550302", ids["silent"], "phone", False), ("+14155550303", ids["wrong"], "phone", False),
             ("+14155550304", ids["blocked"], "phone", False), ("bounced@client.test", ids["bounced"], "email", True),
             ("+14155550306", ids["withdrawn"], "phone", False), ("+1415555", ids["bad"], "phone", False)],
        )  # fmt: skip
        await conn.executemany(
            """INSERT INTO contact_consents (contact_id, channel, granted, source, recorded_by, recorded_at)
               VALUES ($1, $2, $3, 'signed form', 'otto', $4)""",
            [(ids[n], ch, n != "withdrawn", NOW) for n, ch in (("in", "phone"), ("in", "email"), ("wrong", "phone"),
             ("blocked", "phone"), ("bounced", "email"), ("withdrawn", "phone"), ("bad", "phone"))]
        )  # fmt: skip
        await conn.execute(
            """INSERT INTO number_marks (address, manager_id, verdict, marked_at)
               VALUES ('+14155550303', 'm-bob', 'wrong', $1)""",
            NOW,
        )
        await conn.execute("INSERT INTO number_stats (address, list) VALUES ('+14155550304', 'block')")
    return ids


async def test_an_audience_counts_who_is_in_and_why_the_others_are_left_out(reporting: Reporting) -> None:
    await seed_audience(reporting)
    ann = await token(reporting, "manager")
    async with reporting.client.get("/api/audiences?channel=phone", headers=ann) as response:
        preview = await response.json()
    assert preview["included"] == 1
    assert [c["addresses"] for c in preview["contacts"]] == [["+14155550301"]]
    reasons = {r["reason"]: r["count"] for r in preview["reasons"]}
    # Jane Doe (seeded) and Silent have no consent; Bounced consented to email only.
    assert reasons == {"no_consent": 3, "consent_withdrawn": 1, "invalid_number": 1, "wrong_number": 1,
                       "blocked_number": 1}  # fmt: skip
    assert preview["left_out"] == 7
    async with reporting.client.get("/api/audiences?channel=email", headers=ann) as response:
        mail = await response.json()
    assert mail["included"] == 1 and {r["reason"]: r["count"] for r in mail["reasons"]}["bounced_address"] == 1
    async with reporting.client.get("/api/audiences/download?channel=phone", headers=ann) as response:
        lines = (await response.text()).lstrip("\ufeff").splitlines()
    assert len(lines) == 2 and "+14155550301" in lines[1] and lines[0].startswith("contact_id,first_name")
    async with reporting.client.get("/api/audiences?channel=phone&status=lead", headers=ann) as response:
        assert (await response.json())["included"] == 0
    async with reporting.client.get("/api/audiences?contacted_from=someday", headers=ann) as response:
        assert response.status == 400
        assert (await problem_of(response))["errors"][0]["field"] == "contacted_from"
    bob = bearer(await issue_api_token(reporting.pool, BOB_EMAIL))
    async with reporting.client.get("/api/audiences?channel=phone", headers=bob) as response:
        assert (await response.json())["included"] == 0, "Ann's clients are not in Bob's lists"
    async with reporting.client.get("/api/audiences", headers=await token(reporting, "analyst")) as response:
        assert response.status == 403
