"""A fault run: start the system, send the planned events while the nemesis works, drain, collect, check.

Everything runs on loopback in a scratch folder; the run is bounded (events, drain timeout) and stops every process
it started, whatever happens."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import random
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.faults.checker import Answer, Content, Published, Report, Sent, Stored, check
from bench.faults.nemesis import FAULTS, FaultLog, Nemesis, System
from bench.faults.sources import (
    POISONS,
    SOURCES,
    Planned,
    Retry,
    Senders,
    answer_of,
    ingest_env,
    plan_event,
    plan_poison,
)
from bench.infra import Infra
from schemas.topics import CALLS, DLQ, EMAILS, INTERACTIONS
from services.ingest.calls.generic import GenericCallPayload, normalize_generic
from services.runtime.settings import KafkaSettings


@dataclass(frozen=True, slots=True)
class RunConfig:
    events: int = 2000
    seed: int = 1
    faults: tuple[str, ...] = FAULTS
    poisons: tuple[str, ...] = POISONS
    kafka_nul: bool = True  # a NUL in a call id produced straight to Kafka (the database refuses it)
    concurrency: int = 16
    overload_burst: int = 300  # requests at once, far past the ingest's limits below
    # Ingest's load limits, set low so that the overload burst crosses every one of them: produces awaiting Kafka's
    # acknowledgement, webhook requests in progress, SMTP sessions open, and body bytes held (an SMTP DATA
    # reserves TOUCHPOINT_SMTP_MAX_BYTES, 1 MiB here, so three messages at once fill the budget).
    in_flight_limit: int = 32
    request_limit: int = 64
    smtp_session_limit: int = 4
    bytes_in_flight_limit: int = 3 * (1 << 20) + (1 << 19)
    drain_timeout_s: float = 120.0
    rate: float | None = None  # events per second (soak); None: as fast as `concurrency` allows
    workdir: Path | None = None


def _counts(counts: Counter[str]) -> str:
    return ", ".join(f"{answer} x{n}" for answer, n in sorted(counts.items())) or "none"


@dataclass
class Result:
    report: Report
    log: FaultLog
    sent: int
    retried: Counter[str]  # retried attempts by answer (Senders.retried)
    drained: bool
    seconds: float
    classifier_exits: list[str] = field(default_factory=list)
    sending_s: float = 0.0

    def summary(self) -> str:
        lines = [
            f"{self.sent} requests in {self.seconds:.0f}s, drained: {self.drained}, retried: {_counts(self.retried)}",
            self.report.line(),
            *(f"classifier exit: {e}" for e in self.classifier_exits),
            *(
                f"{f.verdict.value}: {f.source} {f.external_id!r} {f.detail} {f.fault}"
                for f in self.report.failures()[:20]
            ),
            *(
                f"refused (not poison): {f.source} {f.external_id!r} {f.detail}"
                for f in self.report.refused_valid()[:20]
            ),
        ]
        return "\n".join(lines)


async def _send_one(planned: Planned, senders: Senders, out: list[Sent]) -> None:
    delivery = await planned.send(senders)
    out.append(
        Sent(planned.source, planned.external_id, answer_of(delivery), planned.content, planned.fault, delivery.code)
    )


def _kafka_poison(run_id: str) -> list[tuple[bytes, bytes]]:
    event = normalize_generic(
        GenericCallPayload.model_validate_json(
            json.dumps(
                {
                    "call_id": f"{run_id}-nulx",
                    "event": "ended",
                    "occurred_at": "2026-11-26T10:00:00Z",
                    "direction": "inbound",
                    "from": "+79160000000",
                    "to": "+14155550100",
                    "status": "missed",
                }
            )
        ),
        datetime.now(UTC),
        "US",
    )
    # Ingest refuses NUL, so the NUL goes in after normalizing: what a foreign producer could put on the topic.
    raw = event.model_dump_json(by_alias=True).encode().replace(b"-nulx", b"-nul\\u0000x")
    return [(b"+79160000000", raw)]


_GARBAGE = [(b"poison-1", b"\xff\xfe not json"), (b"poison-2", b'{"schema": "touchpoint.calls/1", "event_id": 1}')]


async def _end_offsets(kafka: KafkaSettings, topics: list[str]) -> dict[tuple[str, int], int]:
    consumer = AIOKafkaConsumer(enable_auto_commit=False, group_id=None, **kafka.client_kwargs())
    await consumer.start()
    try:
        parts = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or set())]
        if not parts:
            await consumer._client.force_metadata_update()
            parts = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or set())]
        ends = await consumer.end_offsets(parts)
        return {(tp.topic, tp.partition): int(offset) for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def lag(kafka: KafkaSettings, dsn: str) -> int:
    """Records of the input topics the classifier group has not committed to PostgreSQL yet."""
    ends = await _end_offsets(kafka, [kafka.topics(CALLS), kafka.topics(EMAILS)])
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        rows = await conn.fetch(
            "SELECT topic, partition, next_offset FROM consumer_offsets WHERE group_id = $1",
            f"{kafka.topic_namespace}-classifier",
        )
    finally:
        await conn.close()
    done = {(r["topic"], r["partition"]): int(r["next_offset"]) for r in rows}
    return sum(max(end - done.get(tp, 0), 0) for tp, end in ends.items())


async def _outbox_backlog(dsn: str) -> int:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
    finally:
        await conn.close()


async def drain(kafka: KafkaSettings, dsn: str, timeout_s: float, log: FaultLog) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, asyncpg.PostgresError, TimeoutError):
            behind, backlog = await lag(kafka, dsn), await _outbox_backlog(dsn)
            if behind == 0 and backlog == 0:
                log.add("drained: no lag, outbox published")
                return True
        await asyncio.sleep(1.0)
    log.add(f"not drained after {timeout_s:.0f}s")
    return False


async def read_all(kafka: KafkaSettings, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    consumer = AIOKafkaConsumer(
        enable_auto_commit=False, auto_offset_reset="earliest", group_id=None, **kafka.client_kwargs()
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
        if not parts:
            await consumer._client.force_metadata_update()
            parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        out: list[tuple[bytes | None, bytes | None]] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            positions = [await consumer.position(tp) for tp in parts]
            if all(pos >= ends[tp] for pos, tp in zip(positions, parts, strict=True)):
                break
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            out.extend((r.key, r.value) for rs in batch.values() for r in rs)
        return out
    finally:
        await consumer.stop()


async def collect(kafka: KafkaSettings, dsn: str) -> tuple[list[Stored], list[Published], set[str]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """SELECT i.id::text AS id, i.source, i.external_id, i.version, i.kind, i.auto_status, i.direction,
                      i.counterpart, (SELECT count(*) FROM interaction_events e WHERE e.interaction_id = i.id) AS events
               FROM interactions i"""
        )
    finally:
        await conn.close()
    stored = [
        Stored(
            r["id"],
            r["source"],
            r["external_id"],
            r["version"],
            int(r["events"]),
            Content(r["kind"], r["auto_status"] or "", r["direction"], r["counterpart"] or ""),
        )
        for r in rows
    ]
    published = []
    for _, value in await read_all(kafka, kafka.topics(INTERACTIONS)):
        record = json.loads(value or b"{}")
        published.append(
            Published(record["interaction_id"], int(record["version"]), record.get("auto_status"), record["direction"])
        )
    dead = {key.decode(errors="replace") for key, _ in await read_all(kafka, kafka.topics(DLQ)) if key is not None}
    return stored, published, dead


@dataclass
class _Progress:
    done: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def tick(self) -> None:
        self.done += 1
        self.changed.set()

    async def reach(self, count: int) -> None:
        while self.done < count:
            self.changed.clear()
            await self.changed.wait()


def schedule(cfg: RunConfig, rng: random.Random) -> list[tuple[float, str]]:
    """Each fault once (kills three times), at a random point of the sending, in a fixed order by position."""
    points = {"kill": [0.1, 0.45, 0.8], "rebalance": [0.2], "broker": [0.3], "poison-ingest": [0.4],
              "postgres": [0.5], "overload": [0.6], "poison-kafka": [0.65], "slow-db": [0.75]}  # fmt: skip
    plan = [(min(p + rng.uniform(0, 0.05), 0.95), name) for name in cfg.faults for p in points[name]]
    return sorted(plan)


async def run(cfg: RunConfig, on_system: Callable[[System], Coroutine[Any, Any, None]] | None = None) -> Result:
    """`on_system`: a coroutine run next to the sending (the soak's sampler)."""
    with tempfile.TemporaryDirectory(prefix="touchpoint-faults-", ignore_cleanup_errors=True) as scratch:
        workdir = cfg.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        infra = Infra(workdir)
        log = FaultLog()
        started = time.monotonic()
        system: System | None = None
        senders: Senders | None = None
        stop = asyncio.Event()
        supervisor: asyncio.Task[None] | None = None
        try:
            await asyncio.to_thread(infra.start)
            kafka = await infra.kafka_settings("faults")
            dsn = await infra.new_database("faults")
            env = {**ingest_env(), "TOUCHPOINT_MAX_IN_FLIGHT": str(cfg.in_flight_limit),
                   "TOUCHPOINT_MAX_CONCURRENT_REQUESTS": str(cfg.request_limit),
                   "TOUCHPOINT_MAX_SMTP_SESSIONS": str(cfg.smtp_session_limit),
                   "TOUCHPOINT_MAX_BYTES_IN_FLIGHT": str(cfg.bytes_in_flight_limit),
                   "TOUCHPOINT_SMTP_MAX_BYTES": str(1 << 20)}  # fmt: skip
            system = System(infra, kafka, dsn, workdir, env, log)
            await asyncio.to_thread(system.start_ingest)
            system.start_classifier("a")
            log.add(f"system up: ingest :{system.ingest_port}, smtp :{system.smtp_port}, classifier-a")
            supervisor = asyncio.create_task(system.supervise(stop))
            senders = Senders(f"http://127.0.0.1:{system.ingest_port}", system.smtp_port, Retry())
            result = await _exercise(cfg, system, senders, log, on_system)
            result.seconds = time.monotonic() - started
            return result
        finally:
            stop.set()
            if supervisor is not None:
                await supervisor
            if senders is not None:
                await senders.close()
            if system is not None:
                await asyncio.to_thread(system.stop_all)
            await asyncio.to_thread(infra.stop)


async def _exercise(
    cfg: RunConfig,
    system: System,
    senders: Senders,
    log: FaultLog,
    on_system: Callable[[System], Coroutine[Any, Any, None]] | None,
) -> Result:
    rng = random.Random(cfg.seed)
    run_id = f"f{cfg.seed}x{uuid.uuid4().hex[:6]}"
    burst = cfg.overload_burst if "overload" in cfg.faults else 0
    planned = [plan_event(run_id, cfg.seed, i, SOURCES[i % len(SOURCES)]) for i in range(cfg.events + burst)]
    regular, reserved = planned[: cfg.events], planned[cfg.events :]
    sent: list[Sent] = []
    progress = _Progress()
    nemesis = Nemesis(system, rng)

    async def one(p: Planned) -> None:
        try:
            await _send_one(p, senders, sent)
        finally:
            progress.tick()

    actions = _Faults(cfg, nemesis, senders, log, sent, reserved, run_id)

    async def nemesis_loop() -> None:
        for at, fault in schedule(cfg, rng):
            await progress.reach(int(at * len(regular)))
            log.add(f"-> {fault}")
            await actions.do(fault)

    async def sending() -> None:
        gate = asyncio.Semaphore(cfg.concurrency)
        tasks = []
        began = time.monotonic()
        for i, p in enumerate(regular):
            if cfg.rate:
                await asyncio.sleep(max(0.0, began + i / cfg.rate - time.monotonic()))
            await gate.acquire()
            task = asyncio.create_task(one(p))
            task.add_done_callback(lambda _: gate.release())
            tasks.append(task)
        await asyncio.gather(*tasks)
        log.add(f"sending done: {len(regular)} events")

    side = asyncio.create_task(on_system(system)) if on_system is not None else None
    began = time.monotonic()
    try:
        await asyncio.gather(sending(), nemesis_loop())
    finally:
        if side is not None:
            side.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await side
    sent_at = time.monotonic()
    drained = await drain(system.kafka, system.dsn, cfg.drain_timeout_s, log)
    stored, published, dead = await collect(system.kafka, system.dsn)
    report = check(sent, stored, published, dead)
    log.add(report.line())
    result = Result(report, log, len(sent), senders.retried(), drained, 0.0, list(system.exits))
    result.sending_s = sent_at - began
    return result


@dataclass
class _Faults:
    cfg: RunConfig
    nemesis: Nemesis
    senders: Senders
    log: FaultLog
    sent: list[Sent]
    reserved: list[Planned]
    run_id: str

    async def do(self, fault: str) -> None:
        simple = {"kill": self.nemesis.kill, "rebalance": self.nemesis.rebalance, "broker": self.nemesis.broker,
                  "postgres": self.nemesis.postgres, "slow-db": self.nemesis.slow_db, "overload": self.overload,
                  "poison-ingest": self.poison_ingest, "poison-kafka": self.poison_kafka}  # fmt: skip
        await simple[fault]()

    async def overload(self) -> None:
        cfg = self.cfg
        self.log.add(
            f"overload: {len(self.reserved)} requests at once (limits: {cfg.request_limit} requests, "
            f"{cfg.smtp_session_limit} SMTP sessions, {cfg.bytes_in_flight_limit} bytes, "
            f"{cfg.in_flight_limit} produces)"
        )
        before = self.senders.retried()
        await asyncio.gather(*(_send_one(p, self.senders, self.sent) for p in self.reserved))
        self.log.add(f"overload: done, retried: {_counts(self.senders.retried() - before)}")

    async def poison_ingest(self) -> None:
        poison = [plan_poison(self.run_id, i * 10 + j, s, k) for i, s in enumerate(SOURCES)
                  for j, k in enumerate(self.cfg.poisons)]  # fmt: skip
        await asyncio.gather(*(_send_one(p, self.senders, self.sent) for p in poison))
        codes = sorted({(s.source, s.fault, s.code) for s in self.sent if s.content is None})
        self.log.add(f"poison-ingest: {len(poison)} requests, answers {codes}")

    async def poison_kafka(self) -> None:
        records = _GARBAGE + (_kafka_poison(self.run_id) if self.cfg.kafka_nul else [])
        for key in await self.nemesis.produce_poison(records):
            self.sent.append(Sent("kafka", key, Answer.PRODUCED, None, "poison:kafka"))


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


async def sample(system: System, path: Path, every_s: float, began: float) -> None:
    """Appends a row per `every_s`: seconds, consumer lag, and the RSS (KiB) of every process."""
    names = ("ingest", "a", "kafka")
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["seconds", "lag", "ingest_rss_kib", "classifier_rss_kib", "kafka_rss_kib"])
        while True:
            pids = system.pids()
            try:
                behind = await lag(system.kafka, system.dsn)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                behind = -1
            writer.writerow(
                [f"{time.monotonic() - began:.1f}", behind, *(rss_kib(pids[n]) if n in pids else 0 for n in names)]
            )
            handle.flush()
            await asyncio.sleep(every_s)
