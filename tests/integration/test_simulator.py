"""A short simulated office day through real ingest and classifier processes: every simulated call must become
exactly one interaction with the automatic status (and counterpart) the simulator's ground truth says."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from bench.simulator import DayShape, generate_day
from bench.simulator.check import wait_for_calls
from bench.simulator.replay import replay
from bench.simulator.senders import GenericCallSender
from services.runtime.settings import KafkaSettings
from tests.integration.helpers import GENERIC_SECRET, ServiceProcess, service_env

pytestmark = pytest.mark.integration

SMALL_DAY = DayShape(managers=3, contacts_per_manager=10, client_calls_per_manager=8, spam_callers=1)


@pytest.fixture
async def ingest_and_classifier(
    kafka: KafkaSettings, database_url: str, tmp_path: Path
) -> AsyncIterator[dict[str, ServiceProcess]]:
    env = service_env(
        kafka,
        database_url,
        TOUCHPOINT_OWN_NUMBERS=f"{SMALL_DAY.main_number},{SMALL_DAY.outbound_number}",
        TOUCHPOINT_DEFAULT_REGION="US",
    )
    procs = {name: ServiceProcess(name, env, tmp_path / f"{name}.log") for name in ("ingest", "classifier")}
    try:
        for proc in procs.values():
            await proc.start()
        yield procs
    finally:
        for proc in procs.values():
            await proc.stop()


async def test_every_simulated_call_becomes_one_interaction_with_its_status(
    ingest_and_classifier: dict[str, ServiceProcess], database_url: str
) -> None:
    day = generate_day(seed=42, day=date(2026, 11, 26), shape=SMALL_DAY)
    assert 30 <= len(day.calls) <= 80, "a few dozen calls"
    assert {"wrong_number", "spam", "callback", "internal"} <= {c.kind for c in day.calls}

    sender = GenericCallSender(ingest_and_classifier["ingest"].url, GENERIC_SECRET)
    try:
        report = await replay(day, sender, None, concurrency=16)
    finally:
        await sender.close()
    assert report.ok, report.failures[:5]
    assert report.call_steps == sum(len(c.steps) for c in day.calls)

    result = await wait_for_calls(database_url, day, timeout_s=60)
    assert result.ok, (
        result.line(),
        result.lost[:5],
        result.wrong[:5],
        ingest_and_classifier["classifier"].logs()[-2000:],
    )
    assert result.stored == len(day.calls)
