"""The reduced fault run: a few thousand events through every source while each fault happens once; then every
acknowledged event must be stored exactly once with its content and published, and nothing else may be."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.faults.checker import Verdict
from bench.faults.nemesis import FAULTS
from bench.faults.runner import RunConfig, run
from bench.faults.sources import SOURCES

# The run owns its broker and database (it restarts both), so it does not use the session's.
pytestmark = pytest.mark.integration


@pytest.mark.timeout(600)
async def test_no_event_is_lost_duplicated_or_wrong_under_every_fault() -> None:
    cfg = RunConfig(events=1500, seed=8, faults=FAULTS, poisons=("oversize", "malformed"), kafka_nul=False)
    result = await run(cfg)
    summary = result.summary() + "\n" + "\n".join(result.log.lines)
    counts = result.report.counts()
    assert result.drained, summary
    assert result.report.ok, summary
    assert not result.report.refused_valid(), summary
    acked = {f.source for f in result.report.findings if f.verdict is Verdict.OK}
    assert acked == set(SOURCES), summary
    assert counts[Verdict.OK] >= cfg.events * 0.95, summary  # the rest may be never acknowledged, not lost
    assert counts[Verdict.REFUSED] == len(SOURCES) * 2, summary  # every oversize and malformed request
    assert counts[Verdict.DEAD_LETTERED] == 2, summary  # the garbage produced straight to Kafka
    # The overload burst was refused by a load limit, not only by the produce bound: which limit refuses first
    # depends on timing (once, every request past the produce bound was answered before 64 were in progress, and
    # only the SMTP session limit and the produce bound refused).
    assert result.retried["503 overloaded"] + result.retried["SMTP 421"] > 0, summary
    done = Counter(message.split(":")[0] for message in result.log.messages if ":" in message)
    assert done["kill"] >= 3 and all(done[fault] >= 1 for fault in FAULTS), summary
    assert any("SIGKILL" in message for message in result.log.messages), summary


@pytest.mark.timeout(300)
async def test_control_characters_are_refused_and_kafka_poison_is_dead_lettered() -> None:
    cfg = RunConfig(
        events=80, seed=9, faults=("poison-ingest", "poison-kafka"), poisons=("control",), drain_timeout_s=25
    )
    result = await run(cfg)
    summary = result.summary() + "\n" + "\n".join(result.log.lines)
    assert not result.classifier_exits, summary
    assert result.report.ok, summary
    assert result.report.counts()[Verdict.REFUSED] == len(SOURCES), summary
    assert result.report.counts()[Verdict.DEAD_LETTERED] == 3, summary
