"""End-to-end latency (issue 8): signed generic webhooks at a fixed rate → the committed interaction row, and →
the `touchpoint.interactions.v1` record, each measured from the request's scheduled send time; and the drain rate
of two classifiers against one.

The open-loop generator (bench/openloop.py) writes each request's due time; a trigger in this run's own database
NOTIFYs each inserted `interaction_events` row (a notification is delivered at commit), and a consumer reads the
interactions topic. All three use CLOCK_MONOTONIC (time.perf_counter), so their times compare across processes.
An event's topic time is the first record of its interaction received after the event's commit."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.classifier import _classifier, applied_offsets, preload, produce, simulated_events
from bench.infra import Infra, machine_busy_seconds, say, service, tree_cpu_seconds
from bench.load import run_openloop
from bench.openloop import percentile
from bench.simulator import DayShape, generate_day
from deploy.local.procs import free_port
from schemas.topics import INTERACTIONS
from services.ingest.calls.generic import sign_generic
from services.runtime.settings import KafkaSettings

SECRET = "bench-generic-secret"  # noqa: S105 - a throwaway secret for a local benchmark

# One notification per 50 rows of a statement (a payload holds at most 8000 bytes), not one per row: the observer
# costs the database and the benchmark's own process less, on the cores the system under test uses. Notifications
# are delivered at commit, so the time of arrival is the commit's, as it was per row.
_NOTIFY = """
CREATE FUNCTION bench_e2e_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE chunk text;
BEGIN
    FOR chunk IN
        SELECT string_agg(event_id || ' ' || interaction_id::text, ',')
        FROM (SELECT event_id, interaction_id, (row_number() OVER () - 1) / 50 AS n FROM new_rows) AS numbered
        GROUP BY n
    LOOP
        PERFORM pg_notify('bench_e2e', chunk);
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER bench_e2e_notify AFTER INSERT ON interaction_events REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bench_e2e_notify();
"""


@dataclass(frozen=True)
class E2EOptions:
    rates: tuple[int, ...] = (200, 500, 1000, 2000)
    duration_s: float = 20.0
    warmup_s: float = 3.0
    drain_events: int = 20_000  # for the two-against-one classifier ratio; 0 skips it
    # As many as ingest admits at once (TOUCHPOINT_MAX_CONCURRENT_REQUESTS): with fewer, a slow broker ack would
    # cap the rate at connections / ack time in the generator instead of showing as latency.
    connections: int = 256
    profile: bool = False  # run ingest and the classifier under pyinstrument (their profiles land in the workdir)
    # Ingest replicas, each on its own port, the generator's connections spread over them (as behind a load
    # balancer, how DESIGN.md scales ingest), and classifier members of one group.
    ingest_processes: int = 1
    classifiers: int = 1
    # Interactions stored before the run, then VACUUM ANALYZE and a checkpoint: a settled database, as autovacuum
    # and the checkpointer leave a running CRM's. 0 (the default, and the baseline): a fresh, empty one.
    history: int = 0

    @classmethod
    def quick(cls) -> E2EOptions:
        return cls(rates=(200, 1000), duration_s=6.0, warmup_s=2.0, drain_events=8_000)


@dataclass
class RateResult:
    rate: int
    sent: int
    accepted: int
    achieved_rate: float
    http_p50_ms: float
    http_p99_ms: float
    committed: int
    on_topic: int
    row_ms: dict[str, float]
    topic_ms: dict[str, float]
    handler_ms: dict[str, float]  # ingest's own time per request (its log line's `ms`: body → Kafka's ack)
    answer_to_row_ms: dict[str, float]
    row_to_topic_ms: dict[str, float]
    load_avg: str
    overloaded: bool
    # CPU time per request sent, in µs, of each process while the generator ran ("machine": all cores, busy).
    cpu_us: dict[str, float] = field(default_factory=dict)

    @property
    def sustained(self) -> bool:
        """Ingest took every request at the rate asked and the classifier kept up (no growing backlog)."""
        return (
            not self.overloaded
            and self.accepted == self.sent
            and self.committed >= 0.999 * self.accepted
            and self.achieved_rate >= 0.95 * self.rate
            and self.row_ms["p99"] < 1000
        )


@dataclass
class E2EResults:
    rates: list[RateResult] = field(default_factory=list)
    drain_one: float = 0.0
    drain_two: float = 0.0

    @property
    def highest_sustained(self) -> int | None:
        ok = [r.rate for r in self.rates if r.sustained]
        return max(ok) if ok else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rates": [asdict(r) | {"sustained": r.sustained} for r in self.rates],
            "highest_sustained": self.highest_sustained,
            "drain_one_per_s": self.drain_one,
            "drain_two_per_s": self.drain_two,
        }


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def write_bodies(path: Path, count: int, tag: str, seed: int) -> list[str]:
    """`count` signed generic call events of simulated office days, each with its own id; returns the event ids
    in order. Call ids carry `tag`, so every rate's calls are new interactions."""
    lines: list[bytes] = []
    ids: list[str] = []
    day = date(2026, 11, 2)
    while len(lines) < count:
        for step in generate_day(seed, day, DayShape(managers=40)).steps:
            payload = dict(step.payload) | {"id": f"{tag}-{len(lines)}", "call_id": f"{tag}-{step.payload['call_id']}"}
            body = json.dumps(payload, separators=(",", ":")).encode()
            lines.append(sign_generic(SECRET.encode(), int(time.time()), body).encode() + b"\t" + body)
            ids.append(f"generic:{payload['id']}")
            if len(lines) >= count:
                break
        day += timedelta(days=1)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return ids


class Watch:
    """Commit times of interaction events (NOTIFY) and receive times of interaction records (the topic)."""

    def __init__(self) -> None:
        self.committed: dict[str, tuple[float, str]] = {}  # event id → (commit time, interaction id)
        self.records: dict[str, list[float]] = {}  # interaction id → receive times

    def on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        now = time.perf_counter()
        for entry in str(payload).split(","):
            event_id, _, interaction = entry.partition(" ")
            self.committed.setdefault(event_id, (now, interaction))

    async def consume(self, kafka: KafkaSettings, stop: asyncio.Event) -> None:
        topic = kafka.topics(INTERACTIONS)
        consumer = AIOKafkaConsumer(**kafka.client_kwargs(), enable_auto_commit=False, fetch_max_wait_ms=20)
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in range(INTERACTIONS.partitions)]
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=50)
                now = time.perf_counter()
                for records in batch.values():
                    for record in records:
                        if record.key is not None:
                            self.records.setdefault(record.key.decode(), []).append(now)
        finally:
            await consumer.stop()

    def topic_time(self, committed_at: float, interaction: str) -> float | None:
        return next((t for t in self.records.get(interaction, ()) if t >= committed_at), None)


def handler_times(logs: list[Path], event_ids: set[str]) -> list[float]:
    """The `ms` of ingest's request log lines (JSON) of these events."""
    times = []
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if '"ingest.request"' in line:
                entry = json.loads(line)
                if entry.get("event_id") in event_ids:
                    times.append(float(entry["ms"]))
    return times


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {f"p{q:g}": round(percentile(ordered, q), 1) for q in (50, 90, 99, 99.9)} | {
        "max": round(ordered[-1], 1) if ordered else float("nan")
    }


class CpuMeter:
    """CPU seconds of the processes of a run (each with its descendants) and of the whole machine."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids = pids

    def snapshot(self) -> dict[str, float]:
        return {name: sum(tree_cpu_seconds(pid) for pid in pids) for name, pids in self.pids.items()} | {
            "bench": time.process_time(),
            "machine": machine_busy_seconds(),
        }

    def since(self, before: dict[str, float]) -> dict[str, float]:
        return {name: value - before[name] for name, value in self.snapshot().items()}


async def run_rate(
    rate: int,
    opts: E2EOptions,
    ports: tuple[int, ...],
    kafka: KafkaSettings,
    watch: Watch,
    workdir: Path,
    cpu: CpuMeter,
    logs: list[Path],
) -> RateResult:
    count = int(rate * (opts.warmup_s + opts.duration_s))
    bodies, dues_file = workdir / f"e2e-{rate}.bodies", workdir / f"e2e-{rate}.dues.json"
    ids = await asyncio.to_thread(write_bodies, bodies, count, f"r{rate}-{time.monotonic_ns()}", 300 + rate)
    load = _load()
    before = cpu.snapshot()
    http = await asyncio.to_thread(
        run_openloop, ports, bodies, rate, opts.duration_s, opts.warmup_s, "1", dues_file, opts.connections
    )
    spent = cpu.since(before) | {"generator": http["generator_cpu_s"]}
    cpu_us = {name: round(seconds * 1e6 / max(http["sent"], 1)) for name, seconds in spent.items()}
    times = json.loads(dues_file.read_text())
    dues: list[float] = times["due"]
    answered: list[float | None] = times["answered"]
    sent_ids = ids[: len(dues)]
    # The classifier and relay finish what was accepted (bounded: a backlog that does not drain is the result).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if sum(1 for e in sent_ids if e in watch.committed) >= http["ok_total"]:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    t0 = dues[0] if dues else 0.0
    row: list[float] = []
    topic: list[float] = []
    after_answer: list[float] = []  # the answer's arrival at the generator → the commit (classifier's share)
    after_row: list[float] = []  # the commit → the topic record (the outbox relay's share)
    committed = on_topic = 0
    for event_id, due, answer in zip(sent_ids, dues, answered, strict=True):
        seen = watch.committed.get(event_id)
        if seen is None:
            continue
        committed += 1
        at_topic = watch.topic_time(*seen)
        on_topic += at_topic is not None
        if due < t0 + opts.warmup_s:
            continue
        row.append((seen[0] - due) * 1000)
        if answer is not None:
            after_answer.append((seen[0] - answer) * 1000)
        if at_topic is not None:
            topic.append((at_topic - due) * 1000)
            after_row.append((at_topic - seen[0]) * 1000)
    # Per request, from its due time: (due, HTTP answer, committed row) in seconds. With --keep, this shows whether
    # the tail is spread over the run or comes in episodes of a few seconds.
    series = [
        (due - t0, None if answer is None else answer - due, watch.committed[e][0] - due)
        for e, due, answer in zip(sent_ids, dues, answered, strict=True)
        if e in watch.committed
    ]
    (workdir / f"e2e-{rate}.series.json").write_text(json.dumps(series))
    result = RateResult(
        rate=rate,
        sent=http["sent"],
        accepted=http["ok_total"],
        achieved_rate=http["achieved_rate"],
        http_p50_ms=http["p50_ms"],
        http_p99_ms=http["p99_ms"],
        committed=committed,
        on_topic=on_topic,
        row_ms=_percentiles(row),
        topic_ms=_percentiles(topic),
        handler_ms=_percentiles(handler_times(logs, set(sent_ids[int(opts.warmup_s * rate) :]))),
        answer_to_row_ms=_percentiles(after_answer),
        row_to_topic_ms=_percentiles(after_row),
        load_avg=load,
        overloaded=http["overloaded"],
        cpu_us=cpu_us,
    )
    say(
        f"  {rate}/s: row p50 {result.row_ms['p50']} p99 {result.row_ms['p99']} ms, topic p50 "
        f"{result.topic_ms['p50']} p99 {result.topic_ms['p99']} ms; {committed}/{result.accepted} committed,"
        f" {result.accepted}/{result.sent} accepted ({http['statuses']}, errors {http['errors']}), load {load};"
        f" ingest's own p50 {result.handler_ms['p50']} p99 {result.handler_ms['p99']} ms,"
        f" answer→row p50 {result.answer_to_row_ms['p50']} p99 {result.answer_to_row_ms['p99']} ms,"
        f" row→topic p50 {result.row_to_topic_ms['p50']} p99 {result.row_to_topic_ms['p99']} ms;"
        f" CPU µs/request {cpu_us}"
    )
    return result


async def drain_rate(infra: Infra, workdir: Path, events: int, classifiers: int) -> float:
    """Events/s that `classifiers` members of one group apply from a pre-filled calls topic (first commit → last)."""
    kafka = await infra.kafka_settings(f"e2e-drain{classifiers}")
    dsn = await infra.new_database(f"e2e_drain{classifiers}")
    records, _ = simulated_events(events, seed=500)
    await produce(kafka, records)
    children = [_classifier(kafka, dsn, workdir, f"drain{classifiers}-{i}", None, None) for i in range(classifiers)]
    group = f"{kafka.topic_namespace}-classifier"
    conn = await asyncpg.connect(dsn)
    first: tuple[float, int] | None = None
    try:
        for child in children:
            child.start()
        deadline = time.monotonic() + 60 + events / 100
        while True:
            done = await applied_offsets(conn, group)
            now = time.monotonic()
            if first is None and done > 0:
                first = (now, done)
            if done >= len(records):
                cpu = sum(child.cpu_seconds() for child in children)  # start-up included: the same for old and new
                break
            if now > deadline:
                raise TimeoutError(f"{classifiers} classifier(s) applied {done}/{len(records)}")
            await asyncio.sleep(0.05)
    finally:
        await asyncio.gather(*(asyncio.to_thread(child.stop) for child in children))
        await conn.close()
        await infra.drop_database(dsn)
    assert first is not None
    rate = (len(records) - first[1]) / max(now - first[0], 1e-9)
    say(f"  {classifiers} classifier(s): {rate:,.0f} events/s, {cpu * 1e6 / len(records):,.0f} µs CPU/event")
    return rate


async def store_history(dsn: str, interactions: int) -> None:
    """Interactions stored before the run, and what autovacuum and the checkpointer will have done since."""
    say(f"storing {interactions:,} interactions of history ...")
    await preload(dsn, interactions)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM ANALYZE")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def run_e2e_benchmark(infra: Infra, workdir: Path, opts: E2EOptions) -> E2EResults:
    results = E2EResults()
    kafka = await infra.kafka_settings("e2e")
    dsn = await infra.new_database("e2e")
    if opts.history:
        await store_history(dsn, opts.history)
    setup = await asyncpg.connect(dsn)
    await setup.execute(_NOTIFY)
    await setup.close()
    ports = tuple(free_port() for _ in range(opts.ingest_processes))
    ingests = []
    for i, port in enumerate(ports):
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "TOUCHPOINT_TOPIC_NAMESPACE": kafka.topic_namespace,
            "TOUCHPOINT_GENERIC_SECRET": SECRET,
            "TOUCHPOINT_INGEST_PORT": str(port),
            "TOUCHPOINT_SMTP_PORT": str(free_port()),
            "TOUCHPOINT_OWN_NUMBERS": "+14155550100,+14155550101",
            "TOUCHPOINT_DEFAULT_REGION": "US",
            "TOUCHPOINT_LOG_FORMAT": "json",
            "DATABASE_URL": dsn,
        }
        ingest = service("ingest", env, workdir)
        ingest.log_path = workdir / f"ingest-{i}.log"
        if opts.profile:
            ingest.argv = [
                sys.executable, "-m", "pyinstrument", "--renderer", "text", "--outfile",
                str(workdir / f"ingest-{i}.prof.txt"), "-m", "services.ingest",
            ]  # fmt: skip
        ingests.append(ingest)
    profiles = [workdir / f"classifier-{i}.prof.txt" if opts.profile else None for i in range(opts.classifiers)]
    classifiers = [_classifier(kafka, dsn, workdir, f"e2e-{i}", None, prof) for i, prof in enumerate(profiles)]
    children = ingests + classifiers
    watch = Watch()
    listener = await asyncpg.connect(dsn)
    await listener.add_listener("bench_e2e", watch.on_notify)
    stop = asyncio.Event()
    consuming = asyncio.create_task(watch.consume(kafka, stop))
    try:
        for child in children:
            child.start()
        for ingest, port in zip(ingests, ports, strict=True):
            await asyncio.to_thread(ingest.wait_ready, f"http://127.0.0.1:{port}/readyz")
        logs = [ingest.log_path for ingest in ingests]
        pids = {"ingest": [c.pid for c in ingests], "classifier": [c.pid for c in classifiers]}
        cpu = CpuMeter(pids | {name: [pid] for name, pid in infra.server_pids().items()})
        # Until the classifier has joined its group and applied something, latencies would measure its start-up.
        priming = E2EOptions(rates=(50,), duration_s=2.0, warmup_s=1.0)
        for _ in range(10):
            primed = await run_rate(50, priming, ports, kafka, watch, workdir, cpu, logs)
            if primed.committed == primed.sent:
                break
        for rate in opts.rates:
            say(f"end to end at {rate} events/s ({opts.duration_s:g} s after {opts.warmup_s:g} s of warm-up) ...")
            results.rates.append(await run_rate(rate, opts, ports, kafka, watch, workdir, cpu, logs))
    finally:
        stop.set()
        try:
            await asyncio.gather(*(asyncio.to_thread(child.stop) for child in children))
            await asyncio.wait([consuming], timeout=10)
            await listener.close()
        finally:
            await infra.drop_database(dsn)
    if not opts.drain_events:
        return results
    say("classifier drain: one, then two members of one group ...")
    results.drain_one = await drain_rate(infra, workdir, opts.drain_events, 1)
    results.drain_two = await drain_rate(infra, workdir, opts.drain_events, 2)
    return results


def report_e2e(results: E2EResults, opts: E2EOptions) -> str:
    lines = [
        f"Open loop, {opts.duration_s:g} s per rate after {opts.warmup_s:g} s of warm-up, {opts.connections}"
        f" connections, {opts.ingest_processes} ingest process(es), {opts.classifiers} classifier(s),"
        f" {opts.history:,} interactions stored before the run; latency from"
        " each request's scheduled send time, in ms.",
        "",
        "| rate/s | load avg | achieved/s | 2xx/sent | HTTP p99 | row p50 | row p90 | row p99 | row max"
        " | topic p50 | topic p90 | topic p99 | topic max | sustained |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results.rates:
        lines.append(
            f"| {r.rate:,} | {r.load_avg} | {r.achieved_rate:,.0f} | {r.accepted:,}/{r.sent:,} | {r.http_p99_ms:.0f}"
            f" | {r.row_ms['p50']:.0f} | {r.row_ms['p90']:.0f} | {r.row_ms['p99']:.0f} | {r.row_ms['max']:.0f}"
            f" | {r.topic_ms['p50']:.0f} | {r.topic_ms['p90']:.0f} | {r.topic_ms['p99']:.0f}"
            f" | {r.topic_ms['max']:.0f} | {'yes' if r.sustained else 'no'} |"
        )
    lines += [
        "",
        "Where the time goes, ms: the HTTP answer (at the generator, from the scheduled send time); ingest's own"
        " time (its log line: from the handler's start to Kafka's ack, so the rest of the HTTP time is waiting for a"
        " connection, the event loop or a core); the answer → the committed row (the classifier); the row → the"
        " topic record (the outbox relay):",
        "",
        "| rate/s | HTTP p50 | HTTP p99 | ingest own p50 | ingest own p99 | answer→row p50 | answer→row p99"
        " | row→topic p50 | row→topic p99 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results.rates:
        lines.append(
            f"| {r.rate:,} | {r.http_p50_ms:.0f} | {r.http_p99_ms:.0f} | {r.handler_ms['p50']:.0f}"
            f" | {r.handler_ms['p99']:.0f} | {r.answer_to_row_ms['p50']:.0f}"
            f" | {r.answer_to_row_ms['p99']:.0f} | {r.row_to_topic_ms['p50']:.0f} | {r.row_to_topic_ms['p99']:.0f} |"
        )
    names = sorted({name for r in results.rates for name in r.cpu_us}, key=lambda n: (n == "machine", n))
    lines += [
        "",
        "CPU time per request sent while the generator ran, µs (`machine`: all cores busy, other work included):",
        "",
        "| rate/s | " + " | ".join(names) + " |",
        "|---:|" + "---:|" * len(names),
    ]
    for r in results.rates:
        lines.append(f"| {r.rate:,} | " + " | ".join(f"{r.cpu_us.get(n, float('nan')):,.0f}" for n in names) + " |")
    best = results.highest_sustained
    ratio = results.drain_two / results.drain_one if results.drain_one else float("nan")
    lines += ["", f"Highest sustained rate of those tried: {f'{best:,}/s' if best else 'none'}."]
    if results.drain_one:
        lines.append(
            f"Classifier drain: one {results.drain_one:,.0f} events/s, two {results.drain_two:,.0f} events/s;"
            f" **two / one = {ratio:.2f}**."
        )
    return "\n".join(lines)
