"""The manager's queue over the real PostgreSQL and Kafka: what awaits confirmation with the suggestion and why,
tasks with overdue marked, plan progress; one-click and bulk confirmation produced as set_outcome actions; 503
with Retry-After when Kafka cannot take them; CSRF on cookie-authenticated changes."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from deploy.local.procs import free_port
from schemas.actions import ACTION_ADAPTER, SetOutcome
from schemas.topics import ACTIONS
from services.reporting.accounts import issue_api_token
from services.reporting.app import build_app
from services.runtime.settings import KafkaSettings
from tests.integration.helpers import read_topic
from tests.integration.reporting_world import ACCOUNTS, Reporting, bearer, log_in, make_deps, problem_of

pytestmark = pytest.mark.integration


async def ann(reporting: Reporting) -> dict[str, str]:
    return bearer(await issue_api_token(reporting.pool, ACCOUNTS["manager"][0]))


async def test_the_queue_lists_what_awaits_confirmation_newest_first_with_suggestions(reporting: Reporting) -> None:
    office = reporting.office
    async with reporting.client.get("/api/queue", headers=await ann(reporting)) as response:
        assert response.status == 200
        queue: dict[str, Any] = await response.json()
    items = queue["items"]
    assert [i["id"] for i in items] == [str(office.ann_flagged), str(office.ann_missed), str(office.ann_email)]
    assert [i["suggested_outcome"] for i in items] == ["wrong_number", "no_answer", "done"]
    assert items[0]["suggestion_reasons"][0] == "flagged as a possible wrong number"
    assert all(i["suggestion_reasons"] for i in items)
    assert items[1]["first_name"] == "Jane", "a manager sees their own clients' names"
    tasks = queue["tasks"]
    assert [(t["id"], t["overdue"]) for t in tasks] == [
        (str(office.ann_task_overdue), True),
        (str(office.ann_task_due), False),
    ]
    assert {(p["metric"], p["done"], p["target"]) for p in queue["plans"]} == {("contacts", 1, 10), ("meetings", 0, 3)}


async def test_the_queue_offers_the_classifiers_stored_suggestion_and_computes_none(reporting: Reporting) -> None:
    office = reporting.office
    await reporting.pool.execute(
        "UPDATE interactions SET suggested_outcome = 'call_back_later', suggestion_reasons = '{stored}' WHERE id = $1",
        office.ann_missed,
    )
    await reporting.pool.execute(
        "UPDATE interactions SET suggested_outcome = NULL, suggestion_reasons = '{}' WHERE id = $1", office.ann_email
    )
    headers = await ann(reporting)
    async with reporting.client.get("/api/queue", headers=headers) as response:
        items = {i["id"]: i for i in (await response.json())["items"]}
    missed, email = items[str(office.ann_missed)], items[str(office.ann_email)]
    assert (missed["suggested_outcome"], missed["suggestion_reasons"]) == ("call_back_later", ["stored"])
    assert (email["suggested_outcome"], email["suggestion_reasons"]) == (None, []), "nothing stored, nothing offered"
    async with reporting.client.post(f"/api/interactions/{office.ann_email}/outcome", json={}, headers=headers) as r:
        assert r.status == 422, "accepting a suggestion the classifier did not store is refused"


async def test_one_click_accepts_the_suggestion_and_the_action_is_on_the_topic(reporting: Reporting) -> None:
    office = reporting.office
    headers = await ann(reporting)
    async with reporting.client.post(f"/api/interactions/{office.ann_missed}/outcome", json={}, headers=headers) as r:
        assert r.status == 202
        answer = await r.json()
    assert answer["outcome"] == "no_answer"
    async with reporting.client.post(
        f"/api/interactions/{office.ann_flagged}/outcome", json={"outcome": "call_back_later"}, headers=headers
    ) as r:
        assert r.status == 202
    records = await read_topic(reporting.kafka, reporting.kafka.topics(ACTIONS), expect=2)
    actions = [ACTION_ADAPTER.validate_json(r.value) for r in records]
    assert all(isinstance(a, SetOutcome) for a in actions)
    got = {(str(a.interaction_id), a.outcome, a.actor_id) for a in actions if isinstance(a, SetOutcome)}
    assert got == {
        (str(office.ann_missed), "no_answer", "m-ann"),
        (str(office.ann_flagged), "call_back_later", "m-ann"),
    }
    assert {r.key for r in records} == {str(office.ann_missed).encode(), str(office.ann_flagged).encode()}
    assert answer["event_id"] in {a.event_id for a in actions}


async def test_an_outcome_off_the_list_is_refused_naming_the_field_and_nothing_is_produced(
    reporting: Reporting,
) -> None:
    async with reporting.client.post(
        f"/api/interactions/{reporting.office.ann_missed}/outcome",
        json={"outcome": "maybe"},
        headers=await ann(reporting),
    ) as r:
        assert r.status == 422
        problem = await problem_of(r)
    assert problem["errors"][0]["field"] == "outcome"
    assert await read_topic(reporting.kafka, reporting.kafka.topics(ACTIONS), timeout=2) == []


async def test_a_selection_is_confirmed_at_once_and_what_is_not_within_reach_is_refused(reporting: Reporting) -> None:
    office = reporting.office
    ids = [str(office.ann_missed), str(office.ann_email), str(office.bob_missed)]
    async with reporting.client.post("/api/queue/confirm", json={"ids": ids}, headers=await ann(reporting)) as r:
        assert r.status == 202
        answer = await r.json()
    assert [(a["interaction_id"], a["outcome"]) for a in answer["accepted"]] == [
        (ids[0], "no_answer"),
        (ids[1], "done"),
    ]
    assert [x["interaction_id"] for x in answer["refused"]] == [ids[2]]
    assert len(await read_topic(reporting.kafka, reporting.kafka.topics(ACTIONS), expect=2)) == 2


async def test_kafka_down_answers_503_with_retry_after_and_changes_nothing(reporting: Reporting) -> None:
    down = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}", request_timeout_ms=1000)
    client: TestClient[Any, Any] = TestClient(TestServer(build_app(make_deps(reporting.pool, down, send_timeout_s=1))))
    await client.start_server()
    try:
        async with client.post(
            f"/api/interactions/{reporting.office.ann_missed}/outcome", json={}, headers=await ann(reporting)
        ) as r:
            assert r.status == 503
            assert int(r.headers["Retry-After"]) > 0
            assert (await problem_of(r))["status"] == 503
    finally:
        await client.close()


async def test_a_cookie_session_needs_the_csrf_token_to_change_anything(reporting: Reporting) -> None:
    token = await log_in(reporting.client, ACCOUNTS["manager"][0])
    path = f"/api/interactions/{reporting.office.ann_missed}/outcome"
    async with reporting.client.post(path, json={}) as r:
        assert r.status == 403
        assert "CSRF" in (await problem_of(r))["detail"]
    async with reporting.client.post(
        path, json={}, headers={"X-CSRF-Token": token, "Origin": "https://evil.test"}
    ) as r:
        assert r.status == 403, "another site's page cannot use the session even with a leaked token"
    async with reporting.client.post(path, json={}, headers={"X-CSRF-Token": token}) as r:
        assert r.status == 202
    form = await reporting.client.post(
        f"/interactions/{reporting.office.ann_email}/outcome", data={"csrf": token}, allow_redirects=False
    )
    assert form.status == 303
    assert form.headers["Location"] == "/queue?sent=done"


async def test_the_queue_page_shows_flagged_calls_with_both_verdicts_side_by_side(reporting: Reporting) -> None:
    await log_in(reporting.client, ACCOUNTS["manager"][0])
    page = await (await reporting.client.get("/queue")).text()
    flagged = page[page.index(f'data-id="{reporting.office.ann_flagged}"') :]
    flagged = flagged[: flagged.index("</li>")]
    assert 'value="wrong_number"' in flagged
    assert 'value="call_back_later"' in flagged
    assert "5 min" not in page  # times are shown as clock times
    assert "1 of 10" in page
    assert "overdue" in page


async def test_the_queue_streams_its_counts_and_tells_when_new_work_arrives(reporting: Reporting) -> None:
    headers = await ann(reporting)
    async with reporting.client.get("/api/queue/events", headers=headers) as stream:
        assert stream.status == 200
        assert stream.headers["Content-Type"] == "text/event-stream"

        async def next_event() -> dict[str, Any]:
            async with asyncio.timeout(10):
                while True:
                    line = (await stream.content.readline()).decode()
                    if line.startswith("data: "):
                        event: dict[str, Any] = json.loads(line[6:])
                        return event

        first = await next_event()
        assert (first["awaiting"], first["open_tasks"]) == (3, 2)
        await reporting.pool.execute(
            """INSERT INTO interactions (id, kind, source, external_id, direction, manager_id, phase, auto_status,
                   started_at) VALUES ($1, 'call', 'generic', 'new', 'inbound', 'm-ann', 'ended', 'missed', now())""",
            uuid.uuid4(),
        )
        assert (await next_event())["awaiting"] == 4
