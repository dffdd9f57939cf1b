"""No PII where analysts read: after calls through the real ingest route and emails, every record of the analyst
topics (interactions, tasks, reports) is scanned for phone numbers, email addresses, and for ids that anyone could
recompute from a known number (the uuid5 ids of before TOUCHPOINT_ID_KEY)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from schemas.actions import UpsertManager
from schemas.topics import ACTIONS, EMAILS, INTERACTIONS, REPORT_TOPICS, REPORTS_MANAGER_DAILY, TASKS
from services.runtime.kafka import DurableProducer, ProducerLimits
from services.runtime.settings import KafkaSettings
from tests.integration.helpers import (
    ServiceProcess,
    call_body,
    eventually,
    read_topic,
    running,
    service_env,
    signed_headers,
)
from tests.unit.classifier.factories import email

pytestmark = pytest.mark.integration

NUMBERS = ("+14155550123", "+14155550177", "+442071838750")
ADDRESSES = ("jane@client.test", "bob.smith@buyer.test")
E164 = re.compile(rb"\+[1-9][0-9]{6,14}")
EMAIL = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The namespaces of the public uuid5 ids this replaced: anyone could recompute an id from a number.
OLD_CONTACT_NS = uuid.UUID("0d7f3c2a-6a51-4f0e-8c53-2f3b9a1e7c44")
OLD_TASK_NS = uuid.UUID("c4a1e2b7-58d3-4f6a-9b0e-3d2c1f7a8e65")


@pytest.fixture
async def services(kafka: KafkaSettings, database_url: str, tmp_path: Path) -> AsyncIterator[dict[str, ServiceProcess]]:
    async with running(service_env(kafka, database_url), tmp_path, "ingest", "classifier") as procs:
        yield procs


def _recomputable(interaction_ids: set[str]) -> set[bytes]:
    """Every id the old scheme would give the contacts of these numbers and addresses and their tasks."""
    counterparts = NUMBERS + ADDRESSES
    contacts = {uuid.uuid5(OLD_CONTACT_NS, f"contact:{c}") for c in counterparts}
    keys = [f"address:{c}" for c in counterparts] + [f"contact:{c}" for c in contacts]
    tasks = {
        uuid.uuid5(OLD_TASK_NS, f"{kind}:{origin}:{key}")
        for kind in ("callback", "fill_contact_data", "reply")
        for origin in interaction_ids
        for key in keys
    }
    return {str(i).encode() for i in contacts | tasks}


@pytest.mark.timeout(180)
async def test_the_analyst_topics_carry_no_phone_number_email_address_or_recomputable_id(
    services: dict[str, ServiceProcess], kafka: KafkaSettings, database_url: str
) -> None:
    # A manager with a team: the calls give figures, so the report topics have records to scan.
    seed = UpsertManager(event_id="seed-m101", actor_id="admin", occurred_at=datetime.now(UTC), manager_id="m101",
                         name="Manager", extensions=("101",), on_duty=True, team="east")  # fmt: skip
    producer = DurableProducer(kafka, ProducerLimits(), client_id="test-seed")
    try:
        await producer.send(kafka.topics(ACTIONS), seed.kafka_key(), seed.model_dump_json(by_alias=True).encode())
    finally:
        await producer.stop()
    conn = await asyncpg.connect(database_url)
    try:
        await eventually(lambda: conn.fetchval("SELECT count(*) FROM managers"), timeout=60)
    finally:
        await conn.close()
    bodies = []
    for n, number in enumerate(NUMBERS):
        call_id = f"c{n}-{uuid.uuid4().hex[:8]}"
        if n == 1:  # answered: a new lead and a task to fill in its data
            fields = {"from": number, "agent": "101", "occurred_at": "2026-11-26T10:00:00Z"}
            bodies += [
                call_body(call_id, "answered", **fields),
                call_body(call_id, "ended", status="answered", **fields),
            ]
        else:  # missed: a callback task for the number
            bodies.append(call_body(call_id, "ended", status="missed", **{"from": number}))
    async with aiohttp.ClientSession() as session:
        for body in bodies:
            async with session.post(
                f"{services['ingest'].url}/webhooks/generic", data=body, headers=signed_headers(body)
            ) as response:
                assert response.status == 202
    emails = [email(f"q{n}.{uuid.uuid4().hex[:6]}@mail.test", counterpart=a) for n, a in enumerate(ADDRESSES)]
    producer = DurableProducer(kafka, ProducerLimits(), client_id="test-emails")
    try:
        for e in emails:
            await producer.send(kafka.topics(EMAILS), e.kafka_key(), e.model_dump_json(by_alias=True).encode())
    finally:
        await producer.stop()

    conn = await asyncpg.connect(database_url)
    try:

        async def relayed() -> bool:
            return bool(
                await conn.fetchval("SELECT count(*) FROM interaction_events") == len(bodies) + len(emails)
                and await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
            )

        await eventually(relayed, timeout=60, interval=0.3)
        interaction_ids = {str(i) for i in await conn.fetchval("SELECT array_agg(id) FROM interactions")}
        tasks = await conn.fetchval("SELECT count(*) FROM tasks")
        contacts = await conn.fetchval("SELECT count(*) FROM contacts")
        expected = await conn.fetchval("SELECT count(*) FROM outbox WHERE topic <> $1", kafka.topics(TASKS))
    finally:
        await conn.close()
    assert tasks >= 4 and contacts >= 2, "the run made leads and tasks, whose ids are what the scan is about"

    records = []
    for topic in (INTERACTIONS, TASKS, *REPORT_TOPICS):
        records += await read_topic(kafka, kafka.topics(topic))
    assert len(records) >= expected + tasks
    assert any(r.topic == kafka.topics(REPORTS_MANAGER_DAILY) for r in records), "report records were scanned too"
    recomputable = _recomputable(interaction_ids)
    seen_ids: set[bytes] = set()
    for record in records:
        for part in [record.key or b"", record.value or b"", *(value for _, value in record.headers)]:
            assert not E164.search(part), (record.topic, part[:300])
            assert not EMAIL.search(part), (record.topic, part[:300])
            assert not any(n.encode()[1:] in part for n in NUMBERS), (record.topic, part[:300])
            ids = set(UUID.findall(part))
            assert not ids & recomputable, (record.topic, part[:300])
            seen_ids |= ids
    assert len(seen_ids) > len(interaction_ids), "contact and task ids were among the ids scanned"
