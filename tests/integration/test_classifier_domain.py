"""The classifier's domain end to end, as a real process on the real broker and PostgreSQL: managers seeded by
actions, a missed call and the callback that closes its task, a lead and its meeting, a flagged short call a
manager clears, an email thread with its reply task, refused actions dead-lettered; and the published topics
carry no phone number, email address or name."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pydantic import BaseModel

from schemas.actions import MarkNumber, MeetingData, RecordMeeting, SetOutcome, UpsertManager
from schemas.events import CallEvent, EmailAddress, EmailEvent, PhoneAddress
from schemas.records import DeadLetter, InteractionChanged, TaskChanged
from schemas.topics import ACTIONS, CALLS, DLQ, EMAILS, INTERACTIONS, TASKS, Topic
from services.runtime.kafka import DurableProducer, ProducerLimits
from services.runtime.settings import KafkaSettings
from tests.integration.helpers import ServiceProcess, eventually, read_topic, service_env

pytestmark = pytest.mark.integration

OWN = "+14155550100"
ALICE = "+14155550201"  # a new client: misses us, we call back, she becomes a lead
BOB = "+14155550202"  # a short call, flagged, then cleared by a manager
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # a Thursday, in business hours
PII = (ALICE.encode(), BOB.encode(), b"+1415555", b"@", b"Jane", b"Doe", b"client.test")


class Feed:
    def __init__(self, kafka: KafkaSettings, producer: DurableProducer) -> None:
        self.kafka = kafka
        self.producer = producer

    async def send(self, topic: Topic, record: BaseModel, key: str) -> None:
        await self.producer.send(self.kafka.topics(topic), key, record.model_dump_json(by_alias=True).encode())

    async def call(self, call_id: str, phase: str, at: datetime, number: str, **kw: Any) -> None:
        event = CallEvent.model_validate(
            {
                "event_id": f"{call_id}:{phase}",
                "source": "generic",
                "call_id": call_id,
                "phase": phase,
                "direction": kw.pop("direction", "inbound"),
                "counterpart": PhoneAddress(raw=number, e164=number),
                "our_number": PhoneAddress(raw=OWN, e164=OWN),
                "occurred_at": at,
                "received_at": at,
                **kw,
            }
        )
        await self.send(CALLS, event, event.kafka_key())

    async def email(self, message_id: str, direction: str, at: datetime, **kw: Any) -> None:
        ours, theirs = EmailAddress(address="m101@example.com"), EmailAddress(address="jane@client.test", name="Jane")
        event = EmailEvent.model_validate(
            {
                "event_id": f"mail:{message_id}",
                "source": "smtp",
                "message_id": f"<{message_id}>",
                "direction": direction,
                "sender": theirs if direction == "inbound" else ours,
                "to": [ours if direction == "inbound" else theirs],
                "counterpart": "jane@client.test",
                "our_address": "m101@example.com",
                "subject": "Pricing",
                "sent_at": at,
                "received_at": at,
                "text": "Hello, Jane Doe here",
                **kw,
            }
        )
        await self.send(EMAILS, event, event.kafka_key())

    async def action(self, action: BaseModel, key: str) -> None:
        await self.send(ACTIONS, action, key)


def act(**kw: Any) -> dict[str, Any]:
    return {"event_id": f"a-{uuid.uuid4()}", "actor_id": "m101", "occurred_at": T0 + timedelta(hours=2), **kw}


@pytest.fixture
async def running(kafka: KafkaSettings, database_url: str, tmp_path: Path) -> AsyncIterator[asyncpg.Connection]:
    env = service_env(
        kafka,
        database_url,
        TOUCHPOINT_OWN_NUMBERS=OWN,
        TOUCHPOINT_MAIL_DOMAINS="example.com",
        TOUCHPOINT_TIMEZONE="UTC",
    )
    worker = ServiceProcess("classifier", env, tmp_path / "classifier.log")
    await worker.start()
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()
        assert await worker.stop() == 0, worker.logs()[-3000:]


async def test_calls_emails_and_actions_keep_the_client_base_true_and_publish_no_pii(
    running: asyncpg.Connection, kafka: KafkaSettings
) -> None:
    conn = running
    producer = DurableProducer(kafka, ProducerLimits(), client_id="test-domain")
    feed = Feed(kafka, producer)
    try:
        for ext, on_duty in (("101", True), ("102", False), ("103", False)):
            upsert = UpsertManager(
                **act(manager_id=f"m{ext}", name=f"Manager {ext}", email=f"m{ext}@example.com", extensions=(ext,))
                | {"on_duty": on_duty, "actor_id": "admin"}
            )
            await feed.action(upsert, upsert.kafka_key())
        await eventually(lambda: conn.fetchval("SELECT count(*) = 3 FROM manager_extensions"))

        # Alice calls, Manager 102's phone rings, nobody answers: a callback task for 102, due in 30 business minutes.
        await feed.call("alice-1", "initiated", T0, ALICE)
        await feed.call("alice-1", "ringing", T0 + timedelta(seconds=1), ALICE, agent="102")
        await feed.call("alice-1", "ended", T0 + timedelta(seconds=30), ALICE)
        task = await eventually(lambda: conn.fetchrow("SELECT * FROM tasks WHERE kind = 'callback'"))
        assert (task["assignee_id"], task["status"], task["address"]) == ("m102", "open", ALICE)
        assert task["due_at"] == T0 + timedelta(seconds=30, minutes=30)

        # Manager 103 calls her back ten minutes later and they talk: the task closes, she becomes a lead.
        back = T0 + timedelta(minutes=10)
        await feed.call("alice-2", "answered", back, ALICE, direction="outbound", agent="103")
        await feed.call(
            "alice-2", "ended", back + timedelta(minutes=3), ALICE, direction="outbound", agent="103",
            status="answered", talk_s=180,
        )  # fmt: skip
        done = await eventually(
            lambda: conn.fetchrow("SELECT * FROM tasks WHERE kind = 'callback' AND status = 'done'")
        )
        assert done["closed_by_manager_id"] == "m103"
        assert done["response_s"] == 10 * 60 - 30
        lead = await conn.fetchrow(
            "SELECT c.* FROM contacts c JOIN contact_addresses a ON a.contact_id = c.id WHERE a.address = $1", ALICE
        )
        assert lead is not None
        assert (lead["owner_id"], lead["created_automatically"], lead["is_lead"]) == ("m103", True, True)
        fill = await conn.fetchrow("SELECT * FROM tasks WHERE kind = 'fill_contact_data'")
        assert fill is not None
        assert (fill["contact_id"], fill["assignee_id"], fill["status"]) == (lead["id"], "m103", "open")

        # Bob: a 4-second answered call from an unknown number is flagged and makes no lead...
        await feed.call("bob-1", "answered", T0 + timedelta(minutes=20), BOB, agent="101")
        await feed.call("bob-1", "ended", T0 + timedelta(minutes=20, seconds=4), BOB, status="answered", talk_s=4)
        flagged = await eventually(
            lambda: conn.fetchrow("SELECT * FROM interactions WHERE external_id = 'bob-1' AND flag IS NOT NULL")
        )
        assert flagged["flag"] == "pending"
        assert (flagged["flag_kind"], list(flagged["spam_reasons"])) == ("wrong_number", ["4 s answered call"])
        assert await conn.fetchval("SELECT count(*) FROM contact_addresses WHERE address = $1", BOB) == 0
        # ...until Manager 101 says the number is fine: the flag clears and the lead it held back is created.
        await feed.action(MarkNumber(**act(interaction_id=flagged["id"], verdict="legit")), str(flagged["id"]))
        await eventually(lambda: conn.fetchval("SELECT count(*) = 1 FROM contact_addresses WHERE address = $1", BOB))
        assert await conn.fetchval("SELECT flag FROM interactions WHERE id = $1", flagged["id"]) == "cleared"

        # Jane writes to Manager 101's mailbox: a lead and a reply task; 101's answer in the thread closes it.
        await feed.email("q1@client.test", "inbound", T0 + timedelta(minutes=30))
        reply = await eventually(lambda: conn.fetchrow("SELECT * FROM tasks WHERE kind = 'reply'"))
        assert (reply["assignee_id"], reply["status"]) == ("m101", "open")
        await feed.email(
            "a1@example.com", "outbound", T0 + timedelta(minutes=75), in_reply_to="<q1@client.test>",
            references=["<q1@client.test>"],
        )  # fmt: skip
        await eventually(lambda: conn.fetchval("SELECT status = 'done' FROM tasks WHERE kind = 'reply'"))
        assert await conn.fetchval("SELECT response_s FROM tasks WHERE kind = 'reply'") == 45 * 60
        assert await conn.fetchval("SELECT count(DISTINCT thread_id) FROM interactions WHERE kind = 'email'") == 1

        # The meeting with Alice, its minimum data set complete: the lead gets her name, the fill-in task closes.
        meeting = MeetingData(
            date=date(2026, 11, 30), last_name="Doe", first_name="Alice", phone=ALICE, topic="demo", result="trial"
        )
        record = RecordMeeting(**act(meeting_id=uuid.uuid4(), contact_id=lead["id"], meeting=meeting))
        await feed.action(record, record.kafka_key())
        await eventually(
            lambda: conn.fetchval(
                "SELECT status = 'done' FROM tasks WHERE kind = 'fill_contact_data' AND contact_id = $1", lead["id"]
            )
        )
        assert await conn.fetchval("SELECT last_name FROM contacts WHERE id = $1", lead["id"]) == "Doe"

        # Refused: a meeting without a topic (the model) and an outcome for an interaction nobody knows (the domain).
        bad_meeting = record.model_dump(mode="json", by_alias=True) | {"event_id": "bad-meeting"}
        del bad_meeting["meeting"]["topic"]
        await producer.send(kafka.topics(ACTIONS), "k", json.dumps(bad_meeting).encode())
        unknown = SetOutcome(**act(interaction_id=uuid.uuid4(), outcome="done"))
        await feed.action(unknown, unknown.kafka_key())
    finally:
        await producer.stop()

    letters = [DeadLetter.model_validate_json(r.value) for r in await read_topic(kafka, kafka.topics(DLQ), expect=2)]
    reasons = {letter.error_class: letter.reason for letter in letters}
    assert "meeting.topic" in reasons["ValidationError"]
    assert reasons["Rejected"] == f"unknown interaction {unknown.interaction_id}"
    assert await conn.fetchval("SELECT accepted FROM applied_actions WHERE event_id = $1", unknown.event_id) is False

    audit = await conn.fetch("SELECT * FROM audit_log ORDER BY id")
    assert {(a["entity"], a["actor_id"]) for a in audit} >= {
        ("manager", "admin"),
        ("interaction", "m101"),
        ("meeting", "m101"),
        ("task", "m101"),
        ("interaction", "classifier"),
        ("task", "classifier"),
    }
    flagged = next(a for a in audit if a["entity"] == "interaction" and a["actor_id"] == "classifier")
    assert (flagged["action_kind"], json.loads(flagged["after"])["flag"]) == ("call", "pending")
    cleared = next(a for a in audit if a["entity"] == "interaction" and a["actor_id"] == "m101")
    assert '"pending"' in cleared["before"] and '"cleared"' in cleared["after"]

    # The published topics: every interaction and task change, and never a number, an address or a name.
    interactions = await read_topic(kafka, kafka.topics(INTERACTIONS), timeout=10)
    tasks = await read_topic(kafka, kafka.topics(TASKS), timeout=10)
    assert len(interactions) >= 5
    assert len(tasks) >= 6
    for record_ in interactions:
        InteractionChanged.model_validate_json(record_.value)
    for record_ in tasks:
        TaskChanged.model_validate_json(record_.value)
    for record_ in [*interactions, *tasks]:
        for needle in PII:
            assert needle not in record_.value, f"{needle!r} published in {record_.value!r}"
