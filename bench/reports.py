"""Issue 10's scale benchmark: with a million interactions and 50 managers stored, how long the report figures take
to answer, and what keeping them costs the classifier.

- Fill: a fresh database gets 50 managers (two teams) and `--interactions` calls over 90 days (inbound answered,
  missed, abandoned; outbound), a callback task per miss (four in five called back), written by SQL
  `generate_series`; then every (manager, day) row of `manager_daily` is computed by the classifier's own
  `update_figures.recompute`, in chunks, as if the classifier had kept them all along.
- Answers: `figures.manager_figures` for every manager (what `GET /api/reports/managers` runs after its permission
  check), for a day, an ISO week and a month, and with `team_total` for a team; `--answers` times each, p50/p99.
- Throughput: simulated office days applied through `Store.apply_batch` (in this process, batches of 1,000
  records) on top of that database, with the figures step on and off: one unmeasured run, then `--runs` runs, each
  applying two offices' batches interleaved (on, off, off, on, …); the medians of events/s, and of CPU time per
  event of this process (`time.process_time`) plus the database server's (/proc), which a busy machine disturbs
  less than wall time.

`python -m bench.reports [--interactions N] [--answers N] [--days N] [--runs N] [--out FILE]`; results in
docs/BENCHMARKS.md."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg

from bench.infra import say
from bench.simulator import DayShape
from bench.simulator.evaluate_flags import events_of, known_office
from bench.simulator.generate import generate_days
from deploy.local.postgres import LocalPostgres
from deploy.local.procs import free_port
from schemas.actions import UpsertManager
from schemas.topics import TopicNames
from services.classifier.decode import Consumed, ConsumedRecord
from services.classifier.fence_offsets import OffsetRange
from services.classifier.store import Store
from services.classifier.update_figures import recompute, recount_current
from services.reporting.figures import manager_figures, team_total
from services.runtime.postgres import create_pool, migrate
from services.runtime.settings import DatabaseSettings

MANAGERS = 50
FIRST = date(2026, 9, 1)
DAYS = 90
TZ = "UTC"
BATCH = 1000


async def fill(pool: asyncpg.Pool, interactions: int, first: date = FIRST) -> float:
    """The stored history, over the DAYS days from `first`; returns the seconds computing its figures took."""
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO managers (id, name, team, on_duty)
               SELECT 'm' || n, 'Manager ' || n, CASE WHEN n % 2 = 0 THEN 'east' ELSE 'west' END, true
               FROM generate_series(1, $1) AS n""",
            MANAGERS,
        )
        await conn.execute(
            """INSERT INTO interactions (id, kind, source, external_id, direction, manager_id, phase, auto_status,
                   started_at, ended_at, talk_s, outcome)
               SELECT md5('bench' || n)::uuid, 'call', 'bench', 'b' || n,
                      CASE WHEN n % 4 = 0 THEN 'outbound' ELSE 'inbound' END, 'm' || (1 + n % $2), 'ended',
                      CASE WHEN n % 10 IN (1, 5) THEN 'missed' WHEN n % 10 = 9 THEN 'abandoned' ELSE 'answered' END,
                      at, at + interval '3 minutes', 150,
                      -- People confirm their calls: only the last two days' await it, one in three
                      CASE WHEN n > $1 * ($4 - 2) / $4 AND n % 3 = 0 THEN NULL ELSE 'connected' END
               FROM generate_series(1, $1) AS n,
                    LATERAL (SELECT $3::timestamptz + (n::float / $1) * interval '1 day' * $4 AS at) t""",
            interactions,
            MANAGERS,
            datetime.combine(first, datetime.min.time(), UTC),
            DAYS,
        )
        await conn.execute(
            """INSERT INTO tasks (id, kind, status, dedupe_key, interaction_id, assignee_id, reason, created_at,
                   due_at, closed_at, response_s)
               SELECT md5('task' || i.id)::uuid, 'callback', CASE WHEN k % 5 = 0 THEN 'open' ELSE 'done' END,
                      'bench:' || i.id, i.id, i.manager_id, 'missed inbound call', i.ended_at,
                      i.ended_at + interval '30 minutes',
                      CASE WHEN k % 5 <> 0 THEN i.ended_at + (k % 90) * interval '1 minute' END,
                      CASE WHEN k % 5 <> 0 THEN (k % 90) * 60 END
               FROM (SELECT *, row_number() OVER () AS k FROM interactions WHERE auto_status = 'missed') i"""
        )
        await conn.execute("ANALYZE")
        keys = [(r["m"], r["d"]) for r in await conn.fetch(
            """SELECT DISTINCT manager_id AS m, (ended_at AT TIME ZONE 'UTC')::date AS d FROM interactions
               ORDER BY 1, 2""")]  # fmt: skip
    started = time.perf_counter()
    for n in range(0, len(keys), 200):
        async with pool.acquire() as conn, conn.transaction():
            await recompute(conn, keys[n : n + 200], TZ)
    async with pool.acquire() as conn:
        await recount_current(conn)
    took = time.perf_counter() - started
    async with pool.acquire() as conn:
        await conn.execute("VACUUM ANALYZE")  # what autovacuum does to a settled database
    return took


def _stats(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


async def answers(pool: asyncpg.Pool, repeat: int) -> dict[str, dict[str, float]]:
    day = FIRST + timedelta(days=40)
    year, week, _ = day.isocalendar()
    monday = date.fromisocalendar(year, week, 1)
    periods = {
        "day": (day, day + timedelta(days=1), None),
        "week": (monday, monday + timedelta(days=7), None),
        "month": (date(2026, 10, 1), date(2026, 11, 1), None),
        "month, team": (date(2026, 10, 1), date(2026, 11, 1), "east"),
    }
    out = {}
    for label, (start, end, team) in periods.items():
        samples = []
        for _ in range(repeat):
            began = time.perf_counter()
            found = await manager_figures(pool, None, start, end, TZ, team)
            if team:
                team_total(found, team, "2026-10")
            samples.append(time.perf_counter() - began)
            assert found
            assert found[0]["figures"]["calls_in"]["value"]
        out[label] = _stats(samples)
    return out


def _office_records(offset_day: int, prefix: str, days: int) -> list[ConsumedRecord]:
    """Simulated office days (6 managers of their own), as consumed records in time order."""
    office_days = generate_days(seed=offset_day, first=FIRST + timedelta(days=offset_day), days=days,
                                shape=DayShape(managers=6))  # fmt: skip
    at = datetime.combine(FIRST, datetime.min.time(), UTC)
    timed: list[tuple[datetime, Consumed]] = [
        (at, UpsertManager(event_id=f"{prefix}-{m.id}", actor_id="bench", occurred_at=at, manager_id=f"{prefix}{m.id}",
                           name=m.name, extensions=(m.extension,), on_duty=True, team="east"))
        for m in office_days[0].office.managers
    ]  # fmt: skip
    for day in office_days:
        for call in day.calls:
            for e in events_of(call):
                timed.append((e.received_at, e.model_copy(update={"call_id": f"{prefix}{e.call_id}",
                                                                  "event_id": f"{prefix}{e.event_id}"})))  # fmt: skip
    timed.sort(key=lambda pair: pair[0])
    offsets: dict[str, int] = {}
    records = []
    for _, event in timed:
        topic = "actions" if isinstance(event, UpsertManager) else "calls"
        offsets[topic] = offsets.get(topic, -1) + 1
        records.append(ConsumedRecord(f"{prefix}.{topic}", 0, offsets[topic], event, None))
    return records


def batches(records: Sequence[ConsumedRecord]) -> list[tuple[list[ConsumedRecord], dict[tuple[str, int], OffsetRange]]]:
    """`records` in batches of BATCH with their offset ranges, as the classifier's consumer hands them over."""
    out = []
    for n in range(0, len(records), BATCH):
        batch = list(records[n : n + BATCH])
        ranges: dict[tuple[str, int], OffsetRange] = {}
        for r in batch:
            tp = (r.topic, r.partition)
            ranges[tp] = OffsetRange(ranges[tp].first if tp in ranges else r.offset, r.offset + 1)
        out.append((batch, ranges))
    return out


def server_cpu_s(pgdata: Path) -> float:
    """CPU seconds the PostgreSQL server has used (the postmaster, its live children and the children it reaped:
    backends, autovacuum, WAL writer) from Linux /proc; 0 when unknown."""
    try:
        postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError):
        return 0.0
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == postmaster:
            ticks += sum(int(f) for f in fields[11:15])
        elif int(fields[1]) == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


async def throughput(pool: asyncpg.Pool, pgdata: Path, days: int, runs: int) -> dict[str, list[dict[str, float]]]:
    """`runs` runs per mode after one unmeasured run of each. A run gives each mode its own office (`days` simulated
    days, their own managers) and applies their batches interleaved, on and off in turns (each first as often), so
    both see the same machine; per run and mode events/s over its batches' time, and CPU microseconds per event of
    this process and of the database server."""
    _, policy = known_office(generate_days(seed=1, first=FIRST, days=1, shape=DayShape(managers=6))[0])
    out: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
    for run in range(runs + 1):
        work = {}
        for n, mode in enumerate(("on", "off") if run % 2 else ("off", "on")):  # which office each gets, in turns
            office = 2 * run + n
            store = Store(pool, f"bench-{office}", TopicNames("bench"), policy, figures=mode == "on")
            work[mode] = (store, batches(_office_records(office * days, f"r{office}", days)))
        # The generated offices and their records are the benchmark's, not the classifier's: kept out of the garbage
        # collector, whose full collections would otherwise walk them, charging the mode that allocates more (on).
        gc.collect()
        gc.freeze()
        spent = {mode: [0, 0.0, 0.0, 0.0] for mode in work}  # events, wall, own CPU, database CPU
        for n in range(max(len(b) for _, b in work.values())):
            for mode in ("on", "off") if n % 2 == run % 2 else ("off", "on"):
                store, todo = work[mode]
                if n >= len(todo):
                    continue
                batch, ranges = todo[n]
                server, wall, cpu = server_cpu_s(pgdata), time.perf_counter(), time.process_time()
                await store.apply_batch(batch, ranges)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                server = server_cpu_s(pgdata) - server
                for i, value in enumerate((len(batch), wall, cpu, server)):
                    spent[mode][i] += value
        for mode, (events, wall, cpu, server) in spent.items():
            measured = {"events": events, "events_per_s": round(events / wall, 1),
                        "cpu_us_per_event": round(cpu / events * 1e6, 1),
                        "db_cpu_us_per_event": round(server / events * 1e6, 1)}  # fmt: skip
            say(f"  figures {mode}{'' if run else ' (warm-up, not counted)'}: {measured}")
            if run:
                out[mode].append(measured)
    return out


def _median(runs: Sequence[dict[str, float]], name: str) -> float:
    return statistics.median(r[name] for r in runs)


async def measure(dsn: str, pgdata: Path, args: argparse.Namespace) -> dict[str, object]:
    # The fill's statements run for minutes on a busy machine.
    pool = await create_pool(DatabaseSettings(DATABASE_URL=dsn, TOUCHPOINT_DB_COMMAND_TIMEOUT_S=1800))
    try:
        await migrate(pool)
        say(f"filling {args.interactions:,} interactions for {MANAGERS} managers over {DAYS} days ...")
        began = time.perf_counter()
        figures_s = await fill(pool, args.interactions)
        took = time.perf_counter() - began
        say(f"filled in {took:.0f} s, of which the figures of every manager-day {figures_s:.0f} s")
        result: dict[str, object] = {"interactions": args.interactions, "managers": MANAGERS,
                                     "figures_fill_s": round(figures_s, 1)}  # fmt: skip
        result["answers"] = await answers(pool, args.answers)
        say(f"answers: {result['answers']}")
        runs = await throughput(pool, pgdata, args.days, args.runs)
        on, off = _median(runs["on"], "events_per_s"), _median(runs["off"], "events_per_s")
        cost = {mode: _median(r, "cpu_us_per_event") + _median(r, "db_cpu_us_per_event") for mode, r in runs.items()}
        result |= {"runs": runs, "median_events_per_s": {"on": on, "off": off}, "ratio_on_off": round(on / off, 3),
                   "cpu_us_per_event": cost, "cpu_ratio_off_on": round(cost["off"] / cost["on"], 3)}  # fmt: skip
        say(f"classifier throughput with figures on / off (medians of {args.runs} runs each): {on:.0f} / {off:.0f}"
            f" events/s = {on / off:.2f}; CPU per event (classifier + database) on / off: {cost['on']:.0f} /"
            f" {cost['off']:.0f} us = {cost['off'] / cost['on']:.2f} of the throughput")  # fmt: skip
        return result
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reports", description=__doc__)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--answers", type=int, default=200)
    parser.add_argument("--days", type=int, default=6, help="simulated office days per throughput run")
    parser.add_argument("--runs", type=int, default=6, help="throughput runs with the figures on, and as many off")
    parser.add_argument("--out", type=Path, help="write the result here as JSON")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="touchpoint-bench-reports-"))
    postgres = LocalPostgres(workdir / "postgres", port=free_port())
    try:
        postgres.start()
        result = asyncio.run(measure(postgres.dsn, postgres.pgdata, args))
    finally:
        postgres.stop("immediate")
        shutil.rmtree(workdir, ignore_errors=True)
    say(f"result: {result}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
