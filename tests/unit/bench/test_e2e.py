"""The end-to-end benchmark's pure parts: an event's topic time is the first record of its interaction after its
commit, and a rate counts as sustained only when nothing was refused, dropped or left behind."""

from __future__ import annotations

import json
from pathlib import Path

from bench.e2e import RateResult, Watch, write_bodies

TIMES = {"p50": 50.0, "p90": 90.0, "p99": 120.0, "p99.9": 150.0, "max": 200.0}


def test_an_events_topic_time_is_the_first_record_of_its_interaction_after_its_commit() -> None:
    watch = Watch()
    watch.on_notify(None, 1, "bench_e2e", "generic:a i-1")
    committed_at, interaction = watch.committed["generic:a"]
    watch.records["i-1"] = [committed_at - 1.0, committed_at + 0.2, committed_at + 0.5]
    assert watch.topic_time(committed_at, interaction) == committed_at + 0.2
    assert watch.topic_time(committed_at, "i-2") is None


def test_a_rate_is_sustained_only_when_everything_was_taken_and_applied_in_time() -> None:
    good = RateResult(1000, 20_000, 20_000, 998.0, 12.0, 20_000, 20_000, TIMES, TIMES, "1.0 1.0 1.0", False)
    assert good.sustained
    assert not RateResult(**{**good.__dict__, "accepted": 19_000}).sustained
    assert not RateResult(**{**good.__dict__, "committed": 15_000}).sustained
    assert not RateResult(**{**good.__dict__, "overloaded": True}).sustained
    assert not RateResult(**{**good.__dict__, "row_ms": {**TIMES, "p99": 2500.0}}).sustained


def test_bodies_carry_ids_the_benchmark_can_follow(tmp_path: Path) -> None:
    path = tmp_path / "bodies"
    ids = write_bodies(path, 30, "t1", seed=3)
    lines = path.read_bytes().splitlines()
    assert len(ids) == len(lines) == 30 == len(set(ids))
    first = json.loads(lines[0].partition(b"\t")[2])
    assert ids[0] == f"generic:{first['id']}" and first["call_id"].startswith("t1-")
