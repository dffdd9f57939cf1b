"""The end-to-end benchmark's pure parts: an event's topic time is the first record of its interaction after its
commit, and a rate counts as sustained only when nothing was refused, dropped or left behind."""

from __future__ import annotations

import json
from pathlib import Path

from bench.e2e import RateResult, Watch, handler_times, write_bodies

TIMES = {"p50": 50.0, "p90": 90.0, "p99": 120.0, "p99.9": 150.0, "max": 200.0}


def test_an_events_topic_time_is_the_first_record_of_its_interaction_after_its_commit() -> None:
    watch = Watch()
    watch.on_notify(None, 1, "bench_e2e", "generic:a i-1")
    committed_at, interaction = watch.committed["generic:a"]
    watch.records["i-1"] = [committed_at - 1.0, committed_at + 0.2, committed_at + 0.5]
    assert watch.topic_time(committed_at, interaction) == committed_at + 0.2
    assert watch.topic_time(committed_at, "i-2") is None


def test_one_notification_commits_every_event_it_lists_and_a_later_one_does_not_move_them() -> None:
    watch = Watch()
    watch.on_notify(None, 1, "bench_e2e", "generic:a i-1,generic:b i-2,generic:c i-1")
    assert {e: i for e, (_, i) in watch.committed.items()} == {
        "generic:a": "i-1",
        "generic:b": "i-2",
        "generic:c": "i-1",
    }
    assert len({at for at, _ in watch.committed.values()}) == 1
    first = watch.committed["generic:a"]
    watch.on_notify(None, 1, "bench_e2e", "generic:a i-1")
    assert watch.committed["generic:a"] == first


def test_a_rate_is_sustained_only_when_everything_was_taken_and_applied_in_time() -> None:
    good = RateResult(
        rate=1000,
        sent=20_000,
        accepted=20_000,
        achieved_rate=998.0,
        http_p50_ms=5.0,
        http_p99_ms=12.0,
        committed=20_000,
        on_topic=20_000,
        row_ms=TIMES,
        topic_ms=TIMES,
        handler_ms=TIMES,
        answer_to_row_ms=TIMES,
        row_to_topic_ms=TIMES,
        load_avg="1.0 1.0 1.0",
        overloaded=False,
    )
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


def test_ingests_own_time_is_read_from_its_request_lines_of_the_events_asked_for(tmp_path: Path) -> None:
    log = tmp_path / "ingest.log"
    lines = [
        {"event": "ingest.started"},
        {"event": "ingest.request", "event_id": "generic:a", "ms": 3.5},
        {"event": "ingest.request", "event_id": "generic:b", "ms": 7.0},
        {"event": "ingest.request", "ms": 1.0},
    ]
    log.write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n")
    assert handler_times([log], {"generic:a", "generic:c"}) == [3.5]
