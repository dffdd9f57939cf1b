"""Issue 8 item 12 on real processes: a caller id that looks like E.164 but is no valid number (one digit too many),
two calls from it, the second's events in reverse order, through the real ingest route: the consumer group lives
on, both calls are stored, no poison record and no second open task."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from schemas.topics import DLQ
from services.runtime.settings import KafkaSettings
from tests.integration.helpers import ServiceProcess, call_body, eventually, running, service_env, signed_headers

pytestmark = pytest.mark.integration

NOT_A_NUMBER = "+331476618690"  # one digit too many for France: ingest keeps only the raw value


@pytest.fixture
async def services(kafka: KafkaSettings, database_url: str, tmp_path: Path) -> AsyncIterator[dict[str, ServiceProcess]]:
    async with running(service_env(kafka, database_url), tmp_path, "ingest", "classifier") as procs:
        yield procs


@pytest.mark.timeout(120)
async def test_two_calls_from_an_invalid_e164_caller_id_the_second_in_reverse_order_never_stop_the_group(
    services: dict[str, ServiceProcess], kafka: KafkaSettings, database_url: str
) -> None:
    a, b = f"a-{uuid.uuid4()}", f"b-{uuid.uuid4()}"
    fields = {"from": NOT_A_NUMBER, "agent": "101"}
    call_a = [
        call_body(a, "ringing", occurred_at="2026-11-26T10:00:00Z", **fields),
        call_body(a, "answered", occurred_at="2026-11-26T10:00:05Z", **fields),
        call_body(a, "ended", occurred_at="2026-11-26T10:02:00Z", status="answered", **fields),
    ]
    call_b = [
        call_body(b, "ended", occurred_at="2026-11-26T10:12:00Z", status="answered", **fields),
        call_body(b, "answered", occurred_at="2026-11-26T10:10:05Z", **fields),
        call_body(b, "ringing", occurred_at="2026-11-26T10:10:00Z", **fields),
    ]
    async with aiohttp.ClientSession() as session:
        for body in call_a + call_b:
            async with session.post(
                f"{services['ingest'].url}/webhooks/generic", data=body, headers=signed_headers(body)
            ) as response:
                assert response.status == 202, await response.text()

    conn = await asyncpg.connect(database_url)
    try:

        async def applied() -> bool:
            return bool(await conn.fetchval("SELECT count(*) FROM interaction_events") == 6)

        await eventually(applied, timeout=60, interval=0.3)
        classifier = services["classifier"]
        assert classifier.proc is not None and classifier.proc.poll() is None, "the classifier lives on"
        rows = await conn.fetch("SELECT external_id, counterpart_is_e164 FROM interactions ORDER BY external_id")
        assert [(r["external_id"], r["counterpart_is_e164"]) for r in rows] == [(a, False), (b, False)]
        open_fill = await conn.fetchval(
            "SELECT count(*) FROM tasks WHERE kind = 'fill_contact_data' AND status = 'open'"
        )
        assert open_fill <= 1
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = $1", kafka.topics(DLQ)) == 0
        assert "classifier.poison_record" not in classifier.logs()
    finally:
        await conn.close()
