"""A short simulated office day through real ingest and classifier processes: every simulated call must become
exactly one interaction with the labelled status and counterpart, and the stored callback and reply tasks must be
the labelled ones wherever no flag intervenes (bench/simulator/compare.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bench.simulator import DayShape, generate_day
from bench.simulator.check import wait_for_managers, wait_for_work
from bench.simulator.replay import replay
from bench.simulator.senders import GenericCallSender, SmtpEmailSender
from services.classifier.seed_managers import manager_actions, seed
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
        TOUCHPOINT_MAIL_DOMAINS=SMALL_DAY.mail_domain,
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


async def test_a_simulated_day_gives_its_interactions_and_the_labelled_tasks(
    ingest_and_classifier: dict[str, ServiceProcess], database_url: str, kafka: KafkaSettings
) -> None:
    day = generate_day(seed=42, day=date(2026, 11, 26), shape=SMALL_DAY)
    assert 30 <= len(day.calls) <= 80, "a few dozen calls"
    assert {"wrong_number", "spam", "callback", "internal"} <= {c.kind for c in day.calls}
    assert day.tasks and any(t.closed_by for t in day.tasks), "the day exercises opening and closing callbacks"

    entries = [
        {"id": m.id, "name": m.name, "email": m.email, "extensions": [m.extension], "on_duty": True}
        for m in day.office.managers
    ]
    await seed(manager_actions(entries, datetime.now(UTC), actor_id="test"), kafka)
    assert await wait_for_managers(database_url, [m.id for m in day.office.managers], timeout_s=30)

    ingest = ingest_and_classifier["ingest"]
    calls = GenericCallSender(ingest.url, GENERIC_SECRET)
    mail = SmtpEmailSender("127.0.0.1", int(ingest.env["TOUCHPOINT_SMTP_PORT"]))
    try:
        report = await replay(day, calls, mail, concurrency=16)
    finally:
        await calls.close()
    assert report.ok, report.failures[:5]
    assert report.email_skip_reason is None and report.emails == len(day.emails)
    assert report.call_steps == sum(len(c.steps) for c in day.calls)

    result, work = await wait_for_work(database_url, day, timeout_s=60, emails=True)
    logs = ingest_and_classifier["classifier"].logs()[-2000:]
    assert result.ok, (result.line(), result.lost[:5], result.wrong[:5], logs)
    assert result.stored == len(day.calls)
    assert work is not None
    assert work.ok, "\n".join(work.lines())
    print("\n".join(work.lines()))  # the measurements, for -s
    assert work.callbacks.matched > 0 and work.replies is not None and work.replies.matched > 0
