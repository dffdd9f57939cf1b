"""The reporting app in-process (aiohttp's test server) on the real PostgreSQL and Kafka, a small office seeded by
SQL (two managers of team east, one of team west, their clients, calls, an email, tasks and a plan), one account
per role, and a client that logs in through the login form like a browser."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.classifier.suggest_outcome import InteractionFacts, suggest_outcome
from services.classifier.update_figures import recompute, recount_current
from services.reporting.accounts import add_user
from services.reporting.app import build_app, templates
from services.reporting.settings import ReportingSettings
from services.reporting.views import ReportingDeps
from services.runtime.health import CachedReadiness
from services.runtime.kafka import DurableProducer, ProducerLimits
from services.runtime.postgres import create_pool
from services.runtime.settings import DatabaseSettings, KafkaSettings

PASSWORD = "correct horse battery"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ACCOUNTS = {
    "manager": ("ann@example.com", {"manager_id": "m-ann", "team": "east"}),
    "supervisor": ("sue@example.com", {"team": "east"}),
    "operator": ("otto@example.com", {}),
    "analyst": ("ada@example.com", {}),
    "admin": ("root@example.com", {}),
}
BOB_EMAIL = "bob@example.com"  # the other manager of team east
CID_EMAIL = "cid@example.com"  # team west


@dataclass
class Office:
    """Ids of what the seed made."""

    ann_contact: uuid.UUID
    bob_contact: uuid.UUID
    ann_missed: uuid.UUID
    ann_answered: uuid.UUID
    ann_flagged: uuid.UUID
    ann_email: uuid.UUID
    bob_missed: uuid.UUID
    cid_answered: uuid.UUID
    ann_task_overdue: uuid.UUID
    ann_task_due: uuid.UUID


async def seed_office(pool: asyncpg.Pool) -> Office:
    ids = Office(*(uuid.uuid4() for _ in range(10)))
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            "INSERT INTO managers (id, name, email, team) VALUES ($1, $2, $3, $4)",
            [("m-ann", "Ann Lee", "ann@example.com", "east"), ("m-bob", "Bob Stone", "bob@example.com", "east"),
             ("m-cid", "Cid Moss", "cid@example.com", "west")],
        )  # fmt: skip
        await conn.executemany(
            """INSERT INTO contacts (id, owner_id, first_name, last_name, created_automatically)
               VALUES ($1, $2, $3, $4, false)""",
            [(ids.ann_contact, "m-ann", "Jane", "Doe"), (ids.bob_contact, "m-bob", "Rick", "Roe")],
        )
        await conn.executemany(
            "INSERT INTO contact_addresses (address, contact_id, kind) VALUES ($1, $2, $3)",
            [("+14155550201", ids.ann_contact, "phone"), ("jane@client.test", ids.ann_contact, "email"),
             ("+14155550202", ids.bob_contact, "phone")],
        )  # fmt: skip
        rows: list[tuple[Any, ...]] = [
            # id, kind, direction, counterpart, manager, contact, status, flag, talk_s, minutes before NOW
            (ids.ann_missed, "call", "inbound", "+14155550201", "m-ann", ids.ann_contact, "missed", None, None, 10),
            (ids.ann_answered, "call", "outbound", "+14155550201", "m-ann", ids.ann_contact, "answered", None, 125, 30),
            (ids.ann_flagged, "call", "inbound", "+14155550299", "m-ann", None, "answered", "pending", 2, 5),
            (
                ids.ann_email,
                "email",
                "inbound",
                "jane@client.test",
                "m-ann",
                ids.ann_contact,
                "received",
                None,
                None,
                60,
            ),
            (ids.bob_missed, "call", "inbound", "+14155550202", "m-bob", ids.bob_contact, "missed", None, None, 15),
            (ids.cid_answered, "call", "inbound", "+14155550203", "m-cid", None, "answered", None, 40, 20),
        ]
        for iid, kind, direction, counterpart, manager, contact, status, flag, talk, ago in rows:
            at = NOW - timedelta(minutes=ago)
            reasons = ("2 s call from a number never seen",) if flag else ()
            # What the classifier stores with each interaction (reporting reads it, never computes it).
            suggestion = suggest_outcome(InteractionFacts(kind, status, direction, flag, talk, reasons))
            assert suggestion is not None
            await conn.execute(
                """INSERT INTO interactions (id, kind, source, external_id, direction, counterpart, manager_id,
                       contact_id, phase, auto_status, flag, talk_s, started_at, ended_at, spam_reasons,
                       suggested_outcome, suggestion_reasons)
                   VALUES ($1, $2, 'generic', $12, $3, $4, $5, $6, 'ended', $7, $8, $9, $10, $10, $11, $13, $14)""",
                iid, kind, direction, counterpart, manager, contact, status, flag, talk, at, list(reasons),
                str(iid), suggestion.outcome, list(suggestion.reasons),
            )  # fmt: skip
        for tid, due in (
            (ids.ann_task_overdue, NOW - timedelta(minutes=5)),
            (ids.ann_task_due, NOW + timedelta(hours=1)),
        ):
            await conn.execute(
                """INSERT INTO tasks (id, kind, status, dedupe_key, contact_id, interaction_id, assignee_id, reason,
                       created_at, due_at) VALUES ($1, 'callback', 'open', $6, $2, $3, 'm-ann',
                       'missed inbound call', $4, $5)""",
                tid, ids.ann_contact, ids.ann_missed, NOW - timedelta(minutes=10), due, str(tid),
            )  # fmt: skip
        await conn.executemany(
            "INSERT INTO plans (manager_id, metric, period, target) VALUES ($1, $2, $3, $4)",
            [("m-ann", "contacts", "2026-11-30", 10), ("m-ann", "meetings", "2026-W49", 3)],
        )
        await conn.execute(
            "UPDATE interactions SET outcome = 'connected' WHERE id = $1", ids.ann_answered
        )  # Ann confirmed one call already: plan progress counts it
        await conn.executemany(
            """INSERT INTO audit_log (action_event_id, action_kind, actor_id, acted_at, entity, entity_id, before,
                   after) VALUES ($1, 'set_outcome', $2, $3, 'interaction', $4, '{"outcome": null}', $5)""",
            [("e1", "m-ann", NOW, str(ids.ann_answered), '{"outcome": "connected"}'),
             ("e2", "m-cid", NOW, str(ids.cid_answered), '{"outcome": "busy"}')],
        )  # fmt: skip
        # The figures the classifier would have kept for these rows (the world is written without it).
        keys = await conn.fetch(
            """SELECT manager_id AS m, (coalesce(ended_at, started_at) AT TIME ZONE 'UTC')::date AS d
               FROM interactions WHERE manager_id IS NOT NULL
               UNION SELECT assignee_id, (created_at AT TIME ZONE 'UTC')::date FROM tasks WHERE assignee_id IS NOT NULL
               UNION SELECT owner_id, (occurred_at AT TIME ZONE 'UTC')::date FROM contacts WHERE owner_id IS NOT NULL"""
        )
        await recompute(conn, sorted((k["m"], k["d"]) for k in keys), "UTC")
        await recount_current(conn)
    for role, (email, extra) in ACCOUNTS.items():
        await add_user(pool, email, role, PASSWORD, name=email.split("@")[0].title(), **extra)
    await add_user(pool, BOB_EMAIL, "manager", PASSWORD, manager_id="m-bob", team="east", name="Bob")
    await add_user(pool, CID_EMAIL, "manager", PASSWORD, manager_id="m-cid", team="west", name="Cid")
    return ids


@dataclass
class Reporting:
    client: TestClient[Any, Any]
    pool: asyncpg.Pool
    office: Office
    kafka: KafkaSettings


def make_deps(pool: asyncpg.Pool, kafka: KafkaSettings, **settings: Any) -> ReportingDeps:
    async def always() -> bool:
        return True

    return ReportingDeps(
        settings=ReportingSettings(**({"live_interval_s": 0.2, "live_stream_s": 5.0} | settings)),
        kafka=kafka,
        pool=pool,
        producer=DurableProducer(kafka, ProducerLimits(send_timeout_s=3.0), client_id="test-reporting"),
        ready=CachedReadiness({"postgres": always}),
        templates=templates(),
        clock=lambda: NOW,
    )


@pytest.fixture
async def reporting(database_url: str, kafka: KafkaSettings) -> AsyncIterator[Reporting]:
    pool = await create_pool(DatabaseSettings(DATABASE_URL=database_url))
    try:
        office = await seed_office(pool)
        client: TestClient[Any, Any] = TestClient(TestServer(build_app(make_deps(pool, kafka))))
        await client.start_server()
        try:
            yield Reporting(client, pool, office, kafka)
        finally:
            await client.close()
    finally:
        await pool.close()


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


async def log_in(client: TestClient[Any, Any], email: str, password: str = PASSWORD) -> str:
    """Logs in through the form like a browser (the client keeps the cookie); returns the session's CSRF token."""
    client.session.cookie_jar.clear()
    response = await client.post(
        "/login", data={"email": email, "password": password, "next": "/queue"}, allow_redirects=False
    )
    assert response.status == 303, await response.text()
    page = await client.get("/desk" if email == ACCOUNTS["operator"][0] else "/")
    match = CSRF_META.search(await page.text())
    assert match, "a logged-in page carries the session's CSRF token"
    return match.group(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def problem_of(response: aiohttp.ClientResponse) -> dict[str, Any]:
    assert response.content_type == "application/problem+json", (response.status, await response.text())
    body: dict[str, Any] = await response.json(content_type="application/problem+json")
    return body
