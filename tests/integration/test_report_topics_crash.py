"""Report records exactly once under crashes: the classifier killed with SIGKILL around its database commit while
calls arrive, restarted; the latest record per key on each report topic then equals the figures table, and every
change of a manager-day was written to the outbox once (its versions run 1..n, one payload each)."""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from schemas.topics import REPORTS_CALLBACK_SLA, REPORTS_MANAGER_DAILY, REPORTS_TEAM_DAILY
from services.classifier.count_figures import manager_daily
from services.runtime.settings import KafkaSettings
from tests.integration.classifier_feed import call_stream, produce
from tests.integration.current_state import raw_current
from tests.integration.helpers import ServiceProcess, eventually, service_env
from tests.integration.report_topics import kcat_records, latest_per_key

pytestmark = pytest.mark.integration

CALLS = 240


@pytest.mark.timeout(300)
@pytest.mark.parametrize("failpoint", ["before_db_commit", "after_db_commit"])
async def test_after_a_crash_the_latest_report_record_per_key_equals_the_table(
    kafka: KafkaSettings, database_url: str, tmp_path: Path, failpoint: str
) -> None:
    # Managers stored before any call is consumed (seeded through the actions topic, some calls could be applied
    # first and count for nobody).
    seed = await asyncpg.connect(database_url)
    try:
        for ext in ("101", "102", "103"):
            await seed.execute("INSERT INTO managers (id, name, on_duty) VALUES ($1, $1, true)", f"m{ext}")
            await seed.execute("INSERT INTO manager_extensions (extension, manager_id) VALUES ($1, $2)", ext, f"m{ext}")
    finally:
        await seed.close()
    stream = call_stream(CALLS, seed=3, prefix=f"crash-{failpoint}")
    await produce(kafka, stream.events)
    env = service_env(kafka, database_url, TOUCHPOINT_CLASSIFIER_FAILPOINTS=failpoint,
                      TOUCHPOINT_CLASSIFIER_MAX_BATCH="50")  # fmt: skip
    doomed = ServiceProcess("classifier", env, tmp_path / "doomed.log")
    await doomed.start(wait_ready=False)
    assert await doomed.wait_exit(60) == -signal.SIGKILL, doomed.logs()[-2000:]

    conn = await asyncpg.connect(database_url)
    try:
        env = service_env(kafka, database_url, TOUCHPOINT_CLASSIFIER_MAX_BATCH="50")
        survivor = ServiceProcess("classifier", env, tmp_path / "survivor.log")
        await survivor.start()
        try:
            await eventually(
                lambda: conn.fetchval("SELECT count(*) = $1 FROM interactions WHERE phase = 'ended'", CALLS), 120
            )
            await eventually(lambda: conn.fetchval("SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"), 60)
        finally:
            await survivor.stop()
        rows = {f"{r['manager_id']}|{r['day']}": dict(r) for r in await conn.fetch("SELECT * FROM manager_daily")}
        assert {k for k in rows if k.endswith("|2026-11-26")} == {
            "m101|2026-11-26",
            "m102|2026-11-26",
            "m103|2026-11-26",
        }
        missed = await conn.fetchval(
            "SELECT count(*) FROM interactions WHERE auto_status = 'missed' AND manager_id IS NOT NULL"
        )
        assert 0 < sum(r["calls_missed"] for r in rows.values()) == missed

        bootstrap = kafka.bootstrap_servers
        latest = await latest_per_key(bootstrap, kafka.topics(REPORTS_MANAGER_DAILY))
        assert set(latest) == set(rows)
        for key, row in rows.items():
            want = manager_daily(row, latest[key]["computed_at"]).model_dump(mode="json", by_alias=True)
            assert latest[key] == want, f"{key}: the latest record is not the table's row"
        seen: dict[str, dict[int, dict[str, object]]] = {}
        for key, record in await kcat_records(bootstrap, kafka.topics(REPORTS_MANAGER_DAILY)):
            versions = seen.setdefault(key, {})
            figures = {k: v for k, v in record.items() if k != "computed_at"}
            assert versions.setdefault(record["version"], figures) == figures, "one change, one payload"
        for key, versions in seen.items():
            assert sorted(versions) == list(range(1, rows[key]["version"] + 1)), f"{key}: a change lost or doubled"
        written = await conn.fetch(
            "SELECT key, count(*) AS n FROM outbox WHERE topic = $1 GROUP BY key", kafka.topics(REPORTS_MANAGER_DAILY)
        )
        assert {r["key"]: r["n"] for r in written} == {k: r["version"] for k, r in rows.items()}

        sla = await latest_per_key(bootstrap, kafka.topics(REPORTS_CALLBACK_SLA))
        for key, row in rows.items():
            assert (sla[key]["callbacks_due"], sla[key]["callbacks_done"]) == (row["callbacks_due"], 0)
        teams = await latest_per_key(bootstrap, kafka.topics(REPORTS_TEAM_DAILY))
        assert teams == {}, "the seeded managers have no team"

        # The current state the batches kept by their changes equals a count of the raw tables (far in the
        # future, every task with a due time is overdue).
        kept = {r["manager_id"]: (r["tasks_open"], r["tasks_due"], r["backlog"])
                for r in await conn.fetch("SELECT * FROM manager_current")}  # fmt: skip
        raw = await raw_current(conn, datetime(2100, 1, 1, tzinfo=UTC))
        assert {m: k for m, k in kept.items() if any(k)} == {
            m: (r["tasks_open"], r["tasks_overdue"], r["backlog"]) for m, r in raw.items()
        }
        assert any(r["tasks_open"] for r in raw.values()), "the calls left callbacks open"
    finally:
        await conn.close()
