"""The human edge through the real pipeline, every service a real process: calls produced as ingest would, the
classifier makes interactions and tasks, reporting shows them in the manager's queue with suggestions, the
manager's one-click confirmation goes out as an action and the classifier applies and audits it."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from schemas.actions import UpsertManager
from schemas.events import CallEvent
from schemas.topics import ACTIONS, CALLS
from services.reporting.accounts import add_user, issue_api_token
from services.runtime.kafka import DurableProducer, ProducerLimits
from services.runtime.settings import KafkaSettings
from tests.integration.classifier_feed import OWN, _event
from tests.integration.helpers import ServiceProcess, eventually, service_env

pytestmark = pytest.mark.integration

PHASES = ("initiated", "ringing", "answered", "ended")
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


def call(call_id: str, phase: str, at: datetime, number: str, **kw: Any) -> CallEvent:
    return _event(call_id, PHASES.index(phase), phase, at, number, **kw)


@pytest.fixture
async def system(
    kafka: KafkaSettings, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[dict[str, ServiceProcess], asyncpg.Connection]]:
    env = service_env(kafka, database_url, TOUCHPOINT_OWN_NUMBERS=OWN, TOUCHPOINT_TIMEZONE="UTC")
    procs = {name: ServiceProcess(name, env, tmp_path / f"{name}.log") for name in ("classifier", "reporting")}
    conn = await asyncpg.connect(database_url)
    try:
        for proc in procs.values():
            await proc.start()
        yield procs, conn
    finally:
        await conn.close()
        codes = {name: await proc.stop() for name, proc in procs.items()}
    assert codes == dict.fromkeys(procs, 0), procs["reporting"].logs()[-2000:]


async def test_a_missed_call_reaches_the_queue_and_one_click_is_applied_by_the_classifier(
    system: tuple[dict[str, ServiceProcess], asyncpg.Connection], kafka: KafkaSettings
) -> None:
    procs, conn = system
    producer = DurableProducer(kafka, ProducerLimits(), client_id="test-people")
    try:
        upsert = UpsertManager(
            event_id=f"m:{uuid.uuid4()}", actor_id="admin", occurred_at=T0, manager_id="m-ann", name="Ann Lee",
            extensions=("101",), on_duty=True,
        )  # fmt: skip
        await producer.send(kafka.topics(ACTIONS), upsert.kafka_key(), upsert.model_dump_json(by_alias=True).encode())
        for event in (
            call("c-1", "initiated", T0, "+14155550201"),
            call("c-1", "ringing", T0 + timedelta(seconds=1), "+14155550201", agent="101"),
            call("c-1", "ended", T0 + timedelta(seconds=25), "+14155550201", status="missed"),
        ):
            await producer.send(kafka.topics(CALLS), event.kafka_key(), event.model_dump_json(by_alias=True).encode())
    finally:
        await producer.stop()
    pool = await asyncpg.create_pool(procs["reporting"].env["DATABASE_URL"], min_size=1, max_size=2)
    assert pool is not None
    try:
        await add_user(pool, "ann@example.com", "manager", "a long password", manager_id="m-ann")
        headers = {"Authorization": f"Bearer {await issue_api_token(pool, 'ann@example.com')}"}
    finally:
        await pool.close()

    url = procs["reporting"].url
    async with aiohttp.ClientSession(headers=headers) as http:

        async def queue() -> dict[str, Any]:
            async with http.get(f"{url}/api/queue") as response:
                assert response.status == 200
                body: dict[str, Any] = await response.json()
                return body

        waiting = await eventually(lambda: _nonempty(queue))
        [item] = waiting["items"]
        assert (item["auto_status"], item["suggested_outcome"]) == ("missed", "no_answer")
        assert [t["kind"] for t in waiting["tasks"]] == ["callback"], "the missed call's callback task is Ann's"

        clicked = time.monotonic()
        async with http.post(f"{url}/api/interactions/{item['id']}/outcome", json={}) as response:
            assert response.status == 202
        row = await eventually(
            lambda: conn.fetchrow("SELECT outcome, outcome_by FROM interactions WHERE outcome IS NOT NULL"), timeout=10
        )
        applied_s = time.monotonic() - clicked
        assert (row["outcome"], row["outcome_by"]) == ("no_answer", "m-ann")
        assert (await queue())["items"] == []
        async with http.get(f"{url}/api/audit") as response:
            trail = (await response.json())["entries"]
        assert [(e["action_kind"], e["actor_id"]) for e in trail][:1] == [("set_outcome", "m-ann")]
    assert applied_s < 10, applied_s


async def _nonempty(queue: Any) -> dict[str, Any] | None:
    body: dict[str, Any] = await queue()
    return body if body["items"] and body["tasks"] else None


async def test_a_deactivated_manager_is_given_no_new_calls_and_their_tasks_wait_for_the_hand_over(
    system: tuple[dict[str, ServiceProcess], asyncpg.Connection], kafka: KafkaSettings
) -> None:
    procs, conn = system
    producer = DurableProducer(kafka, ProducerLimits(), client_id="test-people")

    async def produce(*records: UpsertManager | CallEvent) -> None:
        for r in records:
            topic = kafka.topics(ACTIONS if isinstance(r, UpsertManager) else CALLS)
            await producer.send(topic, r.kafka_key(), r.model_dump_json(by_alias=True).encode())

    def missed(call_id: str, at: datetime, number: str) -> list[CallEvent]:
        return [
            call(call_id, "initiated", at, number),
            call(call_id, "ringing", at + timedelta(seconds=1), number, agent="101"),
            call(call_id, "ended", at + timedelta(seconds=25), number, status="missed"),
        ]

    async def assignee_of(call_id: str) -> tuple[str | None] | None:
        row = await conn.fetchrow(
            """SELECT t.assignee_id FROM tasks t JOIN interactions i ON i.id = t.interaction_id
               WHERE i.external_id = $1 AND t.status = 'open'""",
            call_id,
        )
        return (row["assignee_id"],) if row is not None else None

    def manager(mid: str, name: str, ext: str) -> UpsertManager:
        return UpsertManager(
            event_id=f"m:{uuid.uuid4()}", actor_id="admin", occurred_at=T0, manager_id=mid, name=name,
            extensions=(ext,), on_duty=True, team="east",
        )  # fmt: skip

    try:
        await produce(
            manager("m-ann", "Ann Lee", "101"), manager("m-bob", "Bob Stone", "102"),
            *missed("c-before", T0, "+14155550201"),
        )  # fmt: skip
        assert await eventually(lambda: assignee_of("c-before")) == ("m-ann",), "Ann's phone rang: her callback"

        pool = await asyncpg.create_pool(procs["reporting"].env["DATABASE_URL"], min_size=1, max_size=2)
        assert pool is not None
        try:
            ann = await add_user(pool, "ann@example.com", "manager", "a long password", manager_id="m-ann")
            await add_user(pool, "admin@example.com", "admin", "a long password")
            admin = {"Authorization": f"Bearer {await issue_api_token(pool, 'admin@example.com')}"}
        finally:
            await pool.close()
        url = procs["reporting"].url
        async with aiohttp.ClientSession(headers=admin) as http:
            async with http.post(f"{url}/api/users/{ann.user_id}/deactivate") as response:
                assert response.status == 200, await response.text()
            assert await eventually(lambda: conn.fetchval("SELECT NOT active FROM managers WHERE id = 'm-ann'"))
            assert await eventually(lambda: assignee_of("c-before")) == (None,), "her open task waits unassigned"

            await produce(*missed("c-after", T0 + timedelta(minutes=5), "+14155550202"))
            assert await eventually(lambda: assignee_of("c-after")) == ("m-bob",), (
                "a new caller ringing Ann's old extension is given to the manager on duty"
            )

            async with http.get(f"{url}/api/handover", params={"manager_id": "m-ann", "to": "m-bob"}) as response:
                preview = (await response.json())["preview"]
        task_id = await conn.fetchval(
            "SELECT t.id::text FROM tasks t JOIN interactions i ON i.id = t.interaction_id WHERE i.external_id = $1",
            "c-before",
        )
        assert [t["id"] for t in preview["tasks"]] == [task_id], "the hand-over still finds the callback Ann left"
        assert preview["counts"] == {"m-bob": 1}
    finally:
        await producer.stop()
