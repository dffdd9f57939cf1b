"""Issue 4's benchmark: events per second for ONE classifier process draining a pre-filled touchpoint.calls.v1 into
PostgreSQL, next to a PostgreSQL COPY of the same rows into the same tables in the same run; then how the cost
per event changes as the interactions table grows from 10 thousand to 1 million rows.

- Events are what ingest would have produced for simulated office days (generic feed → `normalize_generic` →
  the same serialization and key), produced to a topic namespace of this run before the classifier starts.
- The classifier runs as `python -m services.classifier`, pinned to one CPU; PostgreSQL and Kafka are unpinned.
  Its rate is measured between its first committed batch and the last, by polling its stored offsets
  (`consumer_offsets`, one tiny table), so start-up and group join are not counted.
- The COPY baseline copies the rows the classifier wrote (interactions, interaction_events, outbox) into a fresh
  database with the same schema, in transactions of the classifier's batch size, with `copy_records_to_table`.
- Growth: a fresh database is pre-loaded by COPY with N interactions (one `ended` event each), then the same
  fixed drain is timed. A cost that rises with N shows the hot path touching more than its own rows."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from bench.infra import Child, Infra, say, service
from bench.simulator import DayShape, generate_day
from schemas.topics import CALLS
from services.classifier.correlate import interaction_id
from services.ingest.calls.generic import GenericCallPayload, normalize_generic
from services.ingest.publish import serialize
from services.runtime.settings import KafkaSettings

BATCH = 5000  # the classifier's default max_batch, used for the COPY transactions too


@dataclass(frozen=True, slots=True)
class ClassifierOptions:
    events: int = 30_000
    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    growth_events: int = 20_000
    profile: bool = True

    @classmethod
    def quick(cls, profile: bool = False) -> ClassifierOptions:
        # The first batch (up to BATCH events) is not timed: a drain needs a few batches after it.
        return cls(events=20_000, sizes=(10_000, 50_000), growth_events=15_000, profile=profile)


@dataclass(frozen=True, slots=True)
class Drain:
    events: int
    seconds: float
    calls: int
    startup_s: float
    cpu_s: float = 0.0
    """The classifier's user+system CPU time over the same interval: CPU-bound when close to `seconds`."""
    outbox_rows: int = 0
    outbox_pending: int = 0
    """Outbox rows not yet published by the relay when the last batch was committed: relay work left outside
    the timed interval (the relay shares the process and its CPU)."""

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def us_per_event(self) -> float:
        return 1e6 * self.seconds / self.events if self.events else 0.0

    @property
    def cpu_us_per_event(self) -> float:
        return 1e6 * self.cpu_s / self.events if self.events else 0.0


@dataclass
class ClassifierResults:
    drain: Drain | None = None
    copy_seconds: float = 0.0
    copy_rows: dict[str, int] = field(default_factory=dict)
    growth: dict[int, Drain] = field(default_factory=dict)
    preload_seconds: dict[int, float] = field(default_factory=dict)
    profile_top: str = ""
    postgres_version: str = ""

    @property
    def copy_rate(self) -> float:
        return self.drain.events / self.copy_seconds if self.drain and self.copy_seconds else 0.0

    @property
    def ratio(self) -> float:
        return self.drain.rate / self.copy_rate if self.drain and self.copy_rate else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "drain": asdict(self.drain) if self.drain else None,
            "drain_rate": self.drain.rate if self.drain else None,
            "drain_cpu_us_per_event": self.drain.cpu_us_per_event if self.drain else None,
            "copy_seconds": self.copy_seconds,
            "copy_rate": self.copy_rate,
            "copy_rows": self.copy_rows,
            "ratio": self.ratio,
            "growth": {
                str(k): {**asdict(v), "rate": v.rate, "us_per_event": v.us_per_event} for k, v in self.growth.items()
            },
            "preload_seconds": self.preload_seconds,
        }


def simulated_events(count: int, seed: int = 100) -> tuple[list[tuple[bytes, bytes]], int]:
    """(key, value) records exactly as ingest produces them, from simulated office days; and the number of calls."""
    records: list[tuple[bytes, bytes]] = []
    calls = 0
    day = date(2026, 11, 2)
    while len(records) < count:
        office_day = generate_day(seed, day, DayShape(managers=50))
        for call in office_day.calls:
            calls += 1
            for step in call.steps:
                payload = GenericCallPayload.model_validate(step.payload)
                event = normalize_generic(payload, step.at + timedelta(seconds=1), "US")
                records.append((event.kafka_key().encode(), serialize(event)))
            if len(records) >= count:
                break
        day += timedelta(days=1)
    return records, calls


async def produce(kafka: KafkaSettings, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        acks="all", enable_idempotence=True, linger_ms=20, max_batch_size=256 * 1024, **kafka.client_kwargs()
    )
    await producer.start()
    try:
        topic = kafka.topics(CALLS)
        futures = []
        for key, value in records:
            futures.append(await producer.send(topic, value=value, key=key))
            if len(futures) >= 5000:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def _classifier(
    kafka: KafkaSettings, dsn: str, workdir: Path, label: str, cpu: str | None, profile: Path | None
) -> Child:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "TOUCHPOINT_TOPIC_NAMESPACE": kafka.topic_namespace,
        "TOUCHPOINT_CLASSIFIER_GROUP_ID": f"{kafka.topic_namespace}-classifier",
        "TOUCHPOINT_CLASSIFIER_PORT": "0",
        "TOUCHPOINT_ID_KEY": "bench-touchpoint-id-key",
        "DATABASE_URL": dsn,
        "TOUCHPOINT_LOG_FORMAT": "json",
    }
    child = service("classifier", env, workdir, cpu)
    child.log_path = workdir / f"classifier-{label}.log"
    if profile is not None:
        child.argv = [
            sys.executable, "-m", "pyinstrument", "--renderer", "text", "--outfile", str(profile),
            "--interval", "0.001", "-m", "services.classifier",
        ]  # fmt: skip
    return child


async def applied_offsets(conn: asyncpg.Connection, group: str) -> int:
    """How many records the group has applied: the sum of its stored next offsets (every topic starts at 0)."""
    return int(
        await conn.fetchval("SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE group_id = $1", group)
    )


async def drain(
    kafka: KafkaSettings,
    dsn: str,
    workdir: Path,
    label: str,
    expected: int,
    calls: int,
    cpu: str | None,
    profile: Path | None = None,
) -> Drain:
    """Starts a classifier on the pre-filled topic and times it from its first committed batch to the last."""
    group = f"{kafka.topic_namespace}-classifier"
    conn = await asyncpg.connect(dsn)
    child = _classifier(kafka, dsn, workdir, label, cpu, profile)
    started = time.monotonic()
    child.start()
    first: tuple[float, int, float] | None = None
    cpu_end = 0.0
    outbox: asyncpg.Record | None = None
    last_say = started
    deadline = started + 60 + expected / 100  # a bound far above any sane rate: a stuck run stops by itself
    try:
        while True:
            done = await applied_offsets(conn, group)
            now = time.monotonic()
            if first is None and done > 0:
                first = (now, done, child.cpu_seconds())
            if done >= expected:
                cpu_end = child.cpu_seconds()
                outbox = await conn.fetchrow(
                    "SELECT count(*) AS n, count(*) FILTER (WHERE published_at IS NULL) AS pending FROM outbox"
                )
                break
            if child.proc is not None and child.proc.poll() is not None:
                raise RuntimeError(f"classifier exited with {child.proc.returncode}: {child.tail()}")
            if now > deadline:
                raise TimeoutError(f"classifier applied {done}/{expected} events in {now - started:.0f}s")
            if now - last_say >= 3:
                last_say = now
                say(f"  {label}: {done:,}/{expected:,} events applied ({now - started:.0f}s)")
            await asyncio.sleep(0.05)
    finally:
        await asyncio.to_thread(child.stop)
        stored = await conn.fetchval("SELECT count(*) FROM interactions WHERE NOT starts_with(external_id, 'preload-')")
        await conn.close()
    assert first is not None
    assert outbox is not None
    if stored != calls:
        raise RuntimeError(f"{label}: {calls} calls were sent but {stored} interactions were stored")
    if expected - first[1] < 2 * BATCH:
        say(f"  {label}: only {expected - first[1]:,} events after the first batch were timed; the rate is coarse")
    return Drain(
        events=expected - first[1],
        seconds=now - first[0],
        calls=calls,
        startup_s=first[0] - started,
        cpu_s=cpu_end - first[2],
        outbox_rows=outbox["n"],
        outbox_pending=outbox["pending"],
    )


async def copy_baseline(source_dsn: str, target_dsn: str) -> tuple[float, dict[str, int]]:
    """The same rows the classifier wrote, COPYed into the same tables of a fresh database, one transaction per
    `BATCH` events (with the interactions they reference and a matching share of the outbox)."""
    src = await asyncpg.connect(source_dsn)
    try:
        interactions = await src.fetch("SELECT * FROM interactions ORDER BY created_at, id")
        events = await src.fetch('SELECT * FROM interaction_events ORDER BY topic, partition, "offset"')
        outbox = await src.fetch("SELECT topic, key, payload, created_at, published_at FROM outbox ORDER BY id")
    finally:
        await src.close()
    by_id = {r["id"]: tuple(r.values()) for r in interactions}
    i_cols = list(interactions[0].keys())
    e_cols = list(events[0].keys())
    o_cols = list(outbox[0].keys()) if outbox else []
    chunks = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
    per_chunk = -(-len(outbox) // max(len(chunks), 1))
    dst = await asyncpg.connect(target_dsn)
    try:
        seen: set[Any] = set()
        started = time.perf_counter()
        for n, chunk in enumerate(chunks):
            new = []
            for e in chunk:
                if e["interaction_id"] not in seen:
                    seen.add(e["interaction_id"])
                    new.append(by_id[e["interaction_id"]])
            async with dst.transaction():
                await dst.copy_records_to_table("interactions", records=new, columns=i_cols)
                await dst.copy_records_to_table(
                    "interaction_events", records=[tuple(e.values()) for e in chunk], columns=e_cols
                )
                part = outbox[n * per_chunk : (n + 1) * per_chunk]
                if part:
                    await dst.copy_records_to_table("outbox", records=[tuple(o.values()) for o in part], columns=o_cols)
        seconds = time.perf_counter() - started
    finally:
        await dst.close()
    return seconds, {"interactions": len(interactions), "interaction_events": len(events), "outbox": len(outbox)}


async def preload(dsn: str, size: int, chunk: int = 50_000) -> float:
    """`size` historical interactions with one `ended` event each, by COPY; then ANALYZE, as autovacuum would."""
    rng = random.Random(size)
    conn = await asyncpg.connect(dsn)
    started = time.perf_counter()
    base = datetime(2026, 8, 1, tzinfo=UTC)
    try:
        for lo in range(0, size, chunk):
            interactions, events = [], []
            for i in range(lo, min(size, lo + chunk)):
                call_id = f"preload-{i:08d}"
                iid = interaction_id("generic", call_id)
                number = f"+1{rng.choice(('212', '312', '415', '646'))}555{rng.randint(0, 9999):04d}"
                at = base + timedelta(seconds=rng.randint(0, 90 * 86400))
                talk = rng.randint(0, 900)
                status = "answered" if talk else "missed"
                interactions.append(
                    (iid, "call", "generic", call_id, "inbound", number, number, "+14155550100", "101", "ended",
                     status, at, at + timedelta(seconds=talk + 10), talk + 10, talk)
                )  # fmt: skip
                payload = {
                    "schema": "touchpoint.calls/1", "event_id": f"generic:{call_id}-0", "source": "generic",
                    "call_id": call_id, "phase": "ended", "status": status, "direction": "inbound",
                    "counterpart": {"raw": number, "e164": number}, "our_number": {"raw": "+14155550100",
                    "e164": "+14155550100"}, "agent": "101", "occurred_at": at.isoformat(),
                    "received_at": at.isoformat(), "ended_at": at.isoformat(), "duration_s": talk + 10, "talk_s": talk,
                }  # fmt: skip
                events.append((f"generic:{call_id}-0", iid, "preload", 0, i, at, json.dumps(payload)))
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "interactions",
                    records=interactions,
                    columns=["id", "kind", "source", "external_id", "direction", "counterpart", "counterpart_raw",
                             "our_address", "agent", "phase", "auto_status", "started_at", "ended_at", "duration_s",
                             "talk_s"],
                )  # fmt: skip
                await conn.copy_records_to_table(
                    "interaction_events",
                    records=events,
                    columns=["event_id", "interaction_id", "topic", "partition", "offset", "occurred_at", "payload"],
                )
            if (lo // chunk) % 4 == 3:
                say(f"  pre-loaded {lo + chunk:,}/{size:,} interactions ({time.perf_counter() - started:.0f}s)")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


def _cpu() -> str | None:
    import os

    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return str(cpus[0]) if len(cpus) >= 2 else None


def summarize_profile(path: Path, lines: int = 45) -> str:
    if not path.exists():
        return "(no profile written)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[:lines])


async def run_classifier_benchmark(infra: Infra, workdir: Path, opts: ClassifierOptions) -> ClassifierResults:
    results = ClassifierResults()
    cpu = _cpu()
    say(f"generating {opts.events:,} call events from simulated office days ...")
    records, calls = simulated_events(opts.events)
    conn = await asyncpg.connect(infra.postgres_dsn)
    results.postgres_version = str(await conn.fetchval("SHOW server_version"))
    await conn.close()

    # 1. One classifier draining the pre-filled topic, then COPY of the same rows.
    kafka = await infra.kafka_settings("classifier")
    await produce(kafka, records)
    say(f"{len(records):,} events ({calls:,} calls) in {kafka.topics(CALLS)}; starting one classifier (CPU {cpu}) ...")
    dsn = await infra.new_database("drain")
    copy_dsn = await infra.new_database("copy")
    try:
        results.drain = await drain(kafka, dsn, workdir, "drain", len(records), calls, cpu)
        d = results.drain
        say(
            f"classifier: {d.rate:,.0f} events/s ({d.us_per_event:.0f} µs/event, {d.cpu_us_per_event:.0f} µs CPU); "
            f"outbox rows not yet relayed at the end: {d.outbox_pending:,}/{d.outbox_rows:,}"
        )
        results.copy_seconds, results.copy_rows = await copy_baseline(dsn, copy_dsn)
        say(f"COPY of the same rows: {results.copy_rate:,.0f} events/s ({results.copy_rows})")
    finally:
        await infra.drop_database(dsn)
        await infra.drop_database(copy_dsn)

    # 2. The same drain on top of a growing table.
    growth_records, growth_calls = simulated_events(opts.growth_events, seed=200)
    for size in opts.sizes:
        dsn = await infra.new_database(f"grow{size}")
        try:
            say(f"growth: pre-loading {size:,} interactions by COPY ...")
            results.preload_seconds[size] = await preload(dsn, size)
            kafka = await infra.kafka_settings(f"grow{size}")
            await produce(kafka, growth_records)
            results.growth[size] = await drain(
                kafka, dsn, workdir, f"grow{size}", len(growth_records), growth_calls, cpu
            )
            g = results.growth[size]
            say(f"  with {size:,} stored: {g.rate:,.0f} events/s ({g.us_per_event:.0f} µs/event)")
        finally:
            await infra.drop_database(dsn)

    # 3. Where the time goes: the same drain under pyinstrument (slower; not used for the numbers above).
    if opts.profile:
        kafka = await infra.kafka_settings("profile")
        await produce(kafka, records)
        dsn = await infra.new_database("profile")
        profile = workdir / "classifier-profile.txt"
        try:
            say("profiling one drain with pyinstrument ...")
            await drain(kafka, dsn, workdir, "profile", len(records), calls, cpu, profile)
        finally:
            await infra.drop_database(dsn)
        with contextlib.suppress(OSError):
            results.profile_top = summarize_profile(profile)
    return results


def report_classifier(results: ClassifierResults, opts: ClassifierOptions) -> str:
    d = results.drain
    assert d is not None
    lines = [
        f"One classifier process (pinned to one CPU) draining {d.events:,} pre-filled events ({d.calls:,} calls); "
        f"COPY = copy_records_to_table of the same rows, {BATCH} events per transaction:",
        "",
        "| writer | events/s | µs/event | CPU µs/event |",
        "|---|---:|---:|---:|",
        f"| classifier (python -m services.classifier) | {d.rate:,.0f} | {d.us_per_event:.0f} | "
        f"{d.cpu_us_per_event:.0f} |",
        f"| PostgreSQL COPY of the same rows | {results.copy_rate:,.0f} | {1e6 / results.copy_rate:.0f} | |",
        "",
        f"classifier / COPY = {results.ratio:.3f}; target >= 10,000 events/s per process: "
        f"{'MET' if d.rate >= 10_000 else 'NOT MET'}",
        f"rows: {results.copy_rows}; classifier start-up to first commit {d.startup_s:.1f}s (not counted)",
        f"outbox rows not yet relayed when the last batch committed: {d.outbox_pending:,} of {d.outbox_rows:,}",
        "",
        f"Growth: the same {opts.growth_events:,}-event drain on top of N stored interactions (pre-loaded by COPY):",
        "",
        "| stored interactions | events/s | µs/event | vs smallest | pre-load time |",
        "|---:|---:|---:|---:|---:|",
    ]
    base = next(iter(results.growth.values()), None)
    for size, g in results.growth.items():
        rel = g.us_per_event / base.us_per_event if base else 1.0
        lines.append(
            f"| {size:,} | {g.rate:,.0f} | {g.us_per_event:.0f} | {rel:.2f}x | {results.preload_seconds[size]:.0f}s |"
        )
    if results.profile_top:
        lines += [
            "",
            "Profile of one drain (pyinstrument, top of the call tree):",
            "",
            "```",
            results.profile_top,
            "```",
        ]
    return "\n".join(lines)
