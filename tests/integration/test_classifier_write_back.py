"""Every field the classifier changes reaches PostgreSQL: a first batch creates managers, contacts, addresses, number
statistics and marks, interactions, tasks, meetings and plans; a second batch changes each of their fields through
the real classify and apply functions (Store.apply_batch), and each change is read back from the database."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from schemas.actions import (
    MarkNumber,
    MeetingData,
    ReassignContact,
    RecordMeeting,
    SetNumberList,
    SetOutcome,
    SetPlan,
    UpsertManager,
)
from schemas.topics import TopicNames
from services.classifier.correlate import interaction_id
from services.classifier.key_ids import UNKEYED_FOR_TESTS as IDS
from services.classifier.store import Store
from services.classifier.thread_emails import email_interaction_id, thread_id_for_root
from services.runtime.postgres import Connection
from tests.integration.classifier_feed import DirectFeed, action_fields, apply_in_batches
from tests.unit.classifier.factories import CLIENT, POLICY, T0, answered, call_event, email, missed

pytestmark = pytest.mark.integration

act = functools.partial(action_fields, t0=T0)

OTHER = "+14155550124"
SPAM = "+14155550125"
JANE = "jane@client.test"


def _meeting(n: int, meeting: int, contact: uuid.UUID, last: str, first: str, topic: str, **kw: Any) -> RecordMeeting:
    data = MeetingData(date=date(2026, 11, 27), last_name=last, first_name=first, topic=topic, result="ok", **kw)
    return RecordMeeting(**act(n, 30 + n, "bob"), meeting_id=uuid.UUID(int=meeting), contact_id=contact, meeting=data)


async def _row(conn: Connection, table: str, where: str, *args: object) -> dict[str, Any]:
    row = await conn.fetchrow(f"SELECT * FROM {table} WHERE {where}", *args)  # noqa: S608 - fixed in the tests
    assert row is not None, f"no {table} row where {where} {args}"
    return dict(row)


async def test_each_field_changed_by_a_batch_is_written(database_url: str) -> None:
    feed = DirectFeed()
    c1, c3 = interaction_id("generic", "c1"), interaction_id("generic", "c3")
    lead, jane = IDS.contact(OTHER), IDS.contact(JANE)
    q1 = email("q1@client.test")
    feed.add(
        UpsertManager(**act(1, -60, "admin"), manager_id="ann", name="Ann", email="ann@example.com",
                      extensions=("101",), on_duty=True),
        UpsertManager(**act(2, -60, "admin"), manager_id="bob", name="Bob", email="bob@example.com",
                      extensions=("102",), on_duty=True),
        UpsertManager(**act(3, -60, "admin"), manager_id="cid", name="Cid", extensions=("103",)),
        *missed("c2", agent="101"),  # an unknown number missed us: a callback task by address
        call_event("c1", "initiated", 0, agent="101", t0=T0 + timedelta(minutes=5)),  # a call still ringing
        call_event("c1", "ringing", 1, agent="101", t0=T0 + timedelta(minutes=5)),
        *answered("c3", agent="101", counterpart=OTHER),  # a stranger we talked to: a lead and its fill-in task
        q1,  # a stranger's email: a lead, its address, a reply task
        MarkNumber(**act(4, 1), number=SPAM, verdict="wrong"),
        SetPlan(**act(5, 1), manager_id="ann", metric="contacts", period="2026-11", target=5),
        _meeting(6, 1, jane, "Doe", "Jane", "first demo", email=JANE),
    )  # fmt: skip
    first_batch = len(feed.records)
    reply_sent = email("a1@example.com", direction="outbound", in_reply_to="q1@client.test", minutes=20)
    feed.add(
        UpsertManager(**act(7, 40, "admin"), manager_id="ann", name="Ann Smith", email="ann.smith@example.com",
                      extensions=("104",), on_duty=False),
        UpsertManager(**act(8, 40, "admin"), manager_id="bob", name="Bob", email="bob@example.com",
                      extensions=("102", "101"), on_duty=True),
        UpsertManager(**act(9, 40, "admin"), manager_id="cid", name="Cid", extensions=("103",), active=False),
        *missed("c4", agent="102", t0=T0 + timedelta(minutes=2)),  # a second miss: one more attempt
        call_event("c1", "answered", 3, agent="101", t0=T0 + timedelta(minutes=5)),  # we called back: done
        call_event("c1", "ended", 63, agent="101", t0=T0 + timedelta(minutes=5), status="answered", talk_s=60),
        *answered("c5", talk=3, agent="102", t0=T0 + timedelta(minutes=7)),  # a short call
        SetOutcome(**act(10, 41), interaction_id=c3, outcome="connected"),
        MarkNumber(**act(11, 42, "bob"), interaction_id=c3, verdict="legit"),
        MarkNumber(**act(12, 43), number=SPAM, verdict="legit"),
        SetNumberList(**act(13, 44), number=SPAM, list="block"),
        ReassignContact(**act(14, 45), contact_id=lead, manager_id="bob"),
        _meeting(15, 2, lead, "Roe", "Rick", "intro", phone=OTHER),  # names the lead, closes its fill-in task
        _meeting(16, 1, jane, "Doe-Smith", "Janet", "second demo", email=JANE),
        SetPlan(**act(17, 46), manager_id="ann", metric="contacts", period="2026-11", target=7),
        reply_sent,
        email("dsn@mx.client.test", is_bounce=True, counterpart=JANE, in_reply_to="a1@example.com", minutes=21),
    )  # fmt: skip
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    try:
        store = Store(pool, "write-back", TopicNames("write-back"), POLICY, clock=lambda: datetime.now(UTC))
        async with pool.acquire() as conn:
            await apply_in_batches(store, feed.records[:first_batch])
            before = await _read(conn, c1, c3, lead, jane)
            await apply_in_batches(store, feed.records[first_batch:])
            after = await _read(conn, c1, c3, lead, jane)
    finally:
        await pool.close()

    expected: dict[tuple[str, str], tuple[object, object]] = {
        ("ann", "name"): ("Ann", "Ann Smith"),
        ("ann", "email"): ("ann@example.com", "ann.smith@example.com"),
        ("ann", "on_duty"): (True, False),
        ("cid", "active"): (True, False),
        ("ext 101", "manager_id"): ("ann", "bob"),
        ("lead", "owner_id"): ("ann", "bob"),
        ("lead", "first_name"): (None, "Rick"),
        ("lead", "last_name"): (None, "Roe"),
        ("lead", "version"): (1, 2),
        ("jane address", "undeliverable"): (False, True),
        ("client stats", "calls"): (1, 2),  # the misses; the conversation is evidence, the short call a signal
        ("client stats", "short_calls"): (0, 1),
        ("client stats", "evidence"): (0, 1),
        ("client stats", "evidence_reason"): (None, "a 60 s conversation"),
        ("spam stats", "list"): (None, "block"),
        ("spam mark", "verdict"): ("wrong", "legit"),
        ("spam mark", "marked_at"): (T0 + timedelta(minutes=1), T0 + timedelta(minutes=43)),
        ("callback", "status"): ("open", "done"),
        ("callback", "attempts"): (1, 2),
        ("callback", "closed_at"): (None, T0 + timedelta(minutes=5, seconds=3)),
        ("callback", "closed_by_interaction_id"): (None, c1),
        ("callback", "closed_by_manager_id"): (None, "bob"),
        ("callback", "close_reason"): (None, "connected call"),
        ("callback", "response_s"): (None, 5 * 60 + 3 - 20),
        ("fill lead", "assignee_id"): ("ann", "bob"),
        ("fill lead", "status"): ("open", "done"),
        ("reply", "status"): ("open", "done"),
        ("reply", "closed_by_interaction_id"): (None, email_interaction_id(reply_sent)),
        ("meeting", "last_name"): ("Doe", "Doe-Smith"),
        ("meeting", "first_name"): ("Jane", "Janet"),
        ("meeting", "topic"): ("first demo", "second demo"),
        ("plan", "target"): (5, 7),
        ("c1", "phase"): ("ringing", "ended"),
        ("c1", "auto_status"): (None, "answered"),
        ("c1", "answered_at"): (None, T0 + timedelta(minutes=5, seconds=3)),
        ("c1", "ended_at"): (None, T0 + timedelta(minutes=5, seconds=63)),
        ("c1", "talk_s"): (None, 60),
        ("c1", "manager_id"): (None, "bob"),
        ("c1", "contact_id"): (None, IDS.contact(CLIENT)),
        ("c1", "spam_reasons"): ([], ["a real client: a 60 s conversation"]),
        ("c1", "version"): (1, 2),
        ("c3", "outcome"): (None, "connected"),
        ("c3", "outcome_by"): (None, "ann"),
        ("c3", "outcome_at"): (None, T0 + timedelta(minutes=41)),
        ("c3", "flag"): (None, "cleared"),
        ("c3", "version"): (1, 2),
    }
    got = {key: (before[key], after[key]) for key in expected}
    assert got == expected
    assert before[("c1", "spam_score")] is None and after[("c1", "spam_score")] is not None
    assert before[("jane", "first_name")] == "Jane", "a meeting names a contact that has no name yet, only once"
    assert after[("jane", "first_name")] == "Jane"
    assert after[("lead", "created_automatically")] and after[("lead", "is_lead")]
    assert before[("fill lead", "id")] == IDS.task("fill_contact_data", c3, f"contact:{lead}")
    assert after[("reply", "thread_id")] == thread_id_for_root("q1@client.test")


async def _read(
    conn: Connection, c1: uuid.UUID, c3: uuid.UUID, lead: uuid.UUID, jane: uuid.UUID
) -> dict[tuple[str, str], object]:
    rows = {
        "ann": await _row(conn, "managers", "id = $1", "ann"),
        "cid": await _row(conn, "managers", "id = $1", "cid"),
        "ext 101": await _row(conn, "manager_extensions", "extension = $1", "101"),
        "lead": await _row(conn, "contacts", "id = $1", lead),
        "jane": await _row(conn, "contacts", "id = $1", jane),
        "jane address": await _row(conn, "contact_addresses", "address = $1", JANE),
        "client stats": await _row(conn, "number_stats", "address = $1", CLIENT),
        "spam stats": await _row(conn, "number_stats", "address = $1", SPAM),
        "spam mark": await _row(conn, "number_marks", "address = $1 AND manager_id = $2", SPAM, "ann"),
        "callback": await _row(conn, "tasks", "kind = 'callback' AND dedupe_key = $1", f"address:{CLIENT}"),
        "fill lead": await _row(conn, "tasks", "kind = 'fill_contact_data' AND contact_id = $1", lead),
        "reply": await _row(conn, "tasks", "kind = 'reply'"),
        "meeting": await _row(conn, "meetings", "id = $1", uuid.UUID(int=1)),
        "plan": await _row(conn, "plans", "manager_id = 'ann'"),
        "c1": await _row(conn, "interactions", "id = $1", c1),
        "c3": await _row(conn, "interactions", "id = $1", c3),
    }
    return {(name, column): value for name, row in rows.items() for column, value in row.items()}
