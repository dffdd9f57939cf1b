"""People's changes end to end: reporting's real routes produce actions to Kafka, the classifier (a real process)
applies and audits them in PostgreSQL, and reporting's API shows the result: a queue item confirmed, a flagged
call's verdict learnt by its number, a contact edited, two contacts merged with every interaction, consent
recorded, a refused merge dead-lettered, and a departing manager's contacts and tasks handed over."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.reporting.accounts import issue_api_token
from tests.integration.helpers import ServiceProcess, eventually, service_env
from tests.integration.reporting_world import ACCOUNTS, BOB_EMAIL, Reporting, bearer

pytestmark = pytest.mark.integration


@pytest.fixture
async def classifier(reporting: Reporting, database_url: str, tmp_path: Path) -> AsyncIterator[asyncpg.Connection]:
    proc = ServiceProcess("classifier", service_env(reporting.kafka, database_url), tmp_path / "classifier.log")
    conn = await asyncpg.connect(database_url)
    try:
        await proc.start()
        yield conn
    finally:
        await conn.close()
        code = await proc.stop()
    assert code == 0, proc.logs()[-3000:]


async def token(reporting: Reporting, email: str) -> dict[str, str]:
    return bearer(await issue_api_token(reporting.pool, email))


async def test_each_persons_change_goes_through_the_classifier_and_shows_in_reporting(
    reporting: Reporting, classifier: asyncpg.Connection
) -> None:
    office, client, db = reporting.office, reporting.client, classifier
    ann = await token(reporting, ACCOUNTS["manager"][0])
    otto = await token(reporting, ACCOUNTS["operator"][0])
    admin = await token(reporting, ACCOUNTS["admin"][0])
    await db.execute("UPDATE interactions SET counterpart_is_e164 = true WHERE kind = 'call'")

    async def get(path: str, headers: dict[str, str]) -> Any:
        async with client.get(path, headers=headers) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def post(path: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        async with client.post(path, json=body, headers=headers) as r:
            assert r.status == 202, await r.text()

    async def applied(event_count: int) -> None:
        await eventually(lambda: _at_least(db, event_count), timeout=30)

    # The manager's queue: one click accepts the suggestion; the flagged call gets the "wrong number" verdict.
    queue = await get("/api/queue", ann)
    assert {i["id"] for i in queue["items"]} >= {str(office.ann_missed), str(office.ann_flagged)}
    await post(f"/api/interactions/{office.ann_missed}/outcome", {}, ann)
    await post(f"/api/interactions/{office.ann_flagged}/outcome", {"outcome": "wrong_number"}, ann)
    await applied(2)
    queue = await get("/api/queue", ann)
    assert str(office.ann_missed) not in {i["id"] for i in queue["items"]}
    confirmed = await get(f"/api/interactions/{office.ann_missed}", ann)
    assert confirmed["outcome"] == "no_answer"
    mark = await row(db, "SELECT manager_id, verdict FROM number_marks WHERE address = '+14155550299'")
    assert (mark["manager_id"], mark["verdict"]) == ("m-ann", "wrong"), "the verdict teaches the number"
    flagged = await row(db, "SELECT flag, suggested_outcome FROM interactions WHERE id = $1", office.ann_flagged)
    assert (flagged["flag"], flagged["suggested_outcome"]) == ("confirmed", "wrong_number")

    # The operators' desk: edit, merge Bob's duplicate record of the client into Ann's, record consent.
    contact = f"/api/contacts/{office.ann_contact}"
    await post(
        contact, {"first_name": "Janet", "add_phones": ["+1 415 555 0277"], "remove_emails": ["jane@client.test"]}, otto
    )
    await post(f"{contact}/merge", {"duplicate_id": str(office.bob_contact)}, otto)
    await post(f"{contact}/consent", {"channel": "email", "granted": True, "source": "said yes on the phone"}, otto)
    await applied(5)
    shown = (await get(contact, otto))["contact"]
    assert shown["first_name"] == "Janet"
    assert {a["address"] for a in shown["addresses"]} == {
        "+14155550201",
        "+14155550277",
        "+14155550202",
    }, "the duplicate's number moved with it; the removed address is gone"
    assert await db.fetchval("SELECT count(*) FROM contact_addresses WHERE address = 'jane@client.test'") == 0
    assert {i["id"] for i in shown["interactions"]} == {
        str(office.ann_missed),
        str(office.ann_answered),
        str(office.ann_email),
        str(office.bob_missed),
    }, "every interaction is kept"
    consent = await row(db, "SELECT granted, source, recorded_by FROM contact_consents WHERE channel = 'email'")
    assert tuple(consent) == (True, "said yes on the phone", ACCOUNTS["operator"][0])
    duplicate = await row(db, "SELECT merged_into FROM contacts WHERE id = $1", office.bob_contact)
    assert duplicate["merged_into"] == office.ann_contact

    # Merging the (now empty) duplicate again is refused by reporting before anything is produced, naming where it
    # went (the classifier would dead-letter it too: tests/unit/classifier/test_apply_people_actions.py).
    async with client.post(f"{contact}/merge", json={"duplicate_id": str(office.bob_contact)}, headers=otto) as r:
        assert r.status == 422
        assert str(office.ann_contact) in (await r.json(content_type="application/problem+json"))["detail"]

    # The admin hands Ann's base over to her team; Bob sees her client and her open tasks.
    await post("/api/handover", {"manager_id": "m-ann", "team": "east"}, admin)
    await eventually(lambda: db.fetchval("SELECT NOT active FROM managers WHERE id = 'm-ann'"), timeout=30)
    bob = await token(reporting, BOB_EMAIL)
    await eventually(lambda: _owner_is(db, office.ann_contact, "m-bob"), timeout=30)
    assert (await get(contact, bob))["contact"]["first_name"] == "Janet"
    bob_tasks = {t["id"] for t in (await get("/api/queue", bob))["tasks"]}
    assert {str(office.ann_task_overdue), str(office.ann_task_due)} <= bob_tasks
    assert await db.fetchval("SELECT count(*) FROM tasks WHERE status = 'open' AND assignee_id = 'm-ann'") == 0

    # Every change is in the trail: who, what, before and after.
    trail = (await get("/api/audit?limit=500", admin))["entries"]
    kinds = {(e["action_kind"], e["entity"]) for e in trail}
    assert {
        ("set_outcome", "interaction"),
        ("set_outcome", "number"),
        ("edit_contact", "contact"),
        ("edit_contact", "contact_address"),
        ("merge_contacts", "interaction"),
        ("merge_contacts", "contact_address"),
        ("record_consent", "consent"),
        ("reassign_contact", "contact"),
        ("reassign_contact", "task"),
        ("upsert_manager", "manager"),
    } <= kinds
    edit = next(e for e in trail if (e["action_kind"], e["entity"]) == ("edit_contact", "contact"))
    before, after = (json.loads(x) if isinstance(x, str) else x for x in (edit["before"], edit["after"]))
    assert (edit["actor_id"], before["first_name"], after["first_name"]) == (ACCOUNTS["operator"][0], "Jane", "Janet")


async def row(db: asyncpg.Connection, sql: str, *args: object) -> asyncpg.Record:
    found = await db.fetchrow(sql, *args)
    assert found is not None, sql
    return found


async def _at_least(db: asyncpg.Connection, n: int) -> bool:
    return bool(await db.fetchval("SELECT count(*) >= $1 FROM applied_actions", n))


async def _owner_is(db: asyncpg.Connection, contact_id: object, manager_id: str) -> bool:
    return bool(await db.fetchval("SELECT owner_id = $2 FROM contacts WHERE id = $1", contact_id, manager_id))
