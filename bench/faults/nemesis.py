"""The system under test (broker, database, ingest, classifiers as real processes) and the faults done to it.

Every fault is logged with its start time and what it did; a classifier that exits (killed, or crashed on its own)
is restarted by `supervise`, as a process supervisor would, and its exits are logged too."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer

from bench.infra import Child, Infra, service
from deploy.local.procs import free_port
from schemas.topics import CALLS as CALLS_TOPIC
from services.runtime.settings import KafkaSettings

FAULTS = ("kill", "rebalance", "broker", "postgres", "slow-db", "overload", "poison-ingest", "poison-kafka")


@dataclass
class FaultLog:
    started: float = field(default_factory=time.monotonic)
    lines: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        self.messages.append(message)
        line = f"{time.monotonic() - self.started:7.1f}s  {message}"
        self.lines.append(line)
        print(f"[faults] {line}", flush=True)


@dataclass
class System:
    infra: Infra
    kafka: KafkaSettings
    dsn: str
    workdir: Path
    ingest_env: dict[str, str]
    log: FaultLog
    ingest_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    classifiers: dict[str, Child] = field(default_factory=dict)
    ingest: Child | None = None
    wanted: set[str] = field(default_factory=set)  # classifiers that should be running
    exits: list[str] = field(default_factory=list)
    paused: bool = False  # no restarts while the nemesis restarts a server on purpose

    def _common(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "TOUCHPOINT_TOPIC_NAMESPACE": self.kafka.topic_namespace,
            "DATABASE_URL": self.dsn,
            "TOUCHPOINT_LOG_FORMAT": "json",
        }

    def start_ingest(self) -> None:
        env = {
            **self._common(),
            **self.ingest_env,
            "TOUCHPOINT_INGEST_PORT": str(self.ingest_port),
            "TOUCHPOINT_SMTP_PORT": str(self.smtp_port),
        }
        self.ingest = service("ingest", env, self.workdir)
        self.ingest.start()
        self.ingest.wait_ready(f"http://127.0.0.1:{self.ingest_port}/readyz", 90)

    def start_classifier(self, name: str) -> None:
        env = {
            **self._common(),
            "TOUCHPOINT_CLASSIFIER_GROUP_ID": f"{self.kafka.topic_namespace}-classifier",
            "TOUCHPOINT_CLASSIFIER_PORT": "0",
            "TOUCHPOINT_CLASSIFIER_BATCH_WAIT_MS": "50",
            "TOUCHPOINT_CLASSIFIER_SESSION_TIMEOUT_MS": "6000",
            "TOUCHPOINT_ID_KEY": "faults-touchpoint-id-key",
        }
        child = service("classifier", env, self.workdir)
        child.log_path = self.workdir / f"classifier-{name}.log"
        child.start()
        self.classifiers[name] = child
        self.wanted.add(name)

    def pids(self) -> dict[str, int]:
        found = {name: c.proc.pid for name, c in self.classifiers.items() if c.proc and c.proc.poll() is None}
        if self.ingest is not None and self.ingest.proc is not None:
            found["ingest"] = self.ingest.proc.pid
        if self.infra.kafka is not None and self.infra.kafka.proc is not None:
            found["kafka"] = self.infra.kafka.proc.pid
        return found

    async def supervise(self, stop: asyncio.Event) -> None:
        """Restarts a wanted classifier that exited (after a second, as a supervisor backs off)."""
        while not stop.is_set():
            await asyncio.sleep(0.5)
            if self.paused:
                continue
            for name in sorted(self.wanted):
                child = self.classifiers.get(name)
                proc = child.proc if child else None
                if proc is not None and proc.poll() is not None:
                    code = proc.returncode
                    if code != -signal.SIGKILL:
                        self.exits.append(f"classifier-{name} exited with {code}")
                        self.log.add(f"classifier-{name} exited by itself with {code}; restarting")
                    await asyncio.sleep(1.0)
                    self.start_classifier(name)

    def stop_all(self) -> None:
        self.wanted.clear()
        for child in self.classifiers.values():
            child.stop()
        if self.ingest is not None:
            self.ingest.stop()


class Nemesis:
    def __init__(self, system: System, rng: random.Random) -> None:
        self.system = system
        self.rng = rng
        self.log = system.log

    async def kill(self) -> None:
        """SIGKILL a running classifier at a random moment; the supervisor restarts it."""
        await asyncio.sleep(self.rng.uniform(0.0, 1.5))
        running = [n for n, c in self.system.classifiers.items() if c.proc is not None and c.proc.poll() is None]
        if not running:
            self.log.add("kill: no classifier running")
            return
        name = self.rng.choice(sorted(running))
        proc = self.system.classifiers[name].proc
        assert proc is not None
        os.kill(proc.pid, signal.SIGKILL)
        self.log.add(f"kill: SIGKILL classifier-{name} (pid {proc.pid})")

    async def rebalance(self, hold_s: float = 8.0) -> None:
        """A second classifier joins the group, works for a while and leaves: two rebalances."""
        self.system.start_classifier("b")
        self.log.add("rebalance: classifier-b joined")
        await asyncio.sleep(hold_s)
        self.system.wanted.discard("b")
        self.system.classifiers["b"].stop()
        self.log.add("rebalance: classifier-b stopped (SIGTERM)")

    async def broker(self) -> None:
        kafka = self.system.infra.kafka
        if kafka is None:
            self.log.add("broker: external Kafka, not restarted")
            return
        began = time.monotonic()
        await asyncio.to_thread(kafka.stop)
        self.log.add("broker: Kafka stopped")
        await asyncio.sleep(2.0)
        await asyncio.to_thread(kafka.start)
        self.log.add(f"broker: Kafka back after {time.monotonic() - began:.1f}s")

    async def postgres(self) -> None:
        pg = self.system.infra.postgres
        if pg is None:
            self.log.add("postgres: external PostgreSQL, not restarted")
            return
        began = time.monotonic()
        await asyncio.to_thread(pg.stop, "immediate")
        self.log.add("postgres: stopped (immediate: a crash)")
        await asyncio.sleep(2.0)
        await asyncio.to_thread(pg.start)
        self.log.add(f"postgres: back after {time.monotonic() - began:.1f}s")

    async def slow_db(self, hold_s: float = 6.0) -> None:
        """A session holds a lock every classifier write needs, for `hold_s` (as a long migration or a
        vacuum full would)."""
        conn = await asyncpg.connect(self.system.dsn)
        try:
            async with conn.transaction():
                await conn.execute("LOCK TABLE interactions IN SHARE ROW EXCLUSIVE MODE")
                self.log.add(f"slow-db: interactions locked for {hold_s:.0f}s")
                await conn.execute("SELECT pg_sleep($1)", hold_s)
        finally:
            await conn.close()
        self.log.add("slow-db: lock released")

    async def produce_poison(self, records: list[tuple[bytes, bytes]]) -> list[str]:
        """Writes records straight to the calls topic; returns the dead-letter keys they must get."""
        topic = self.system.kafka.topics(CALLS_TOPIC)
        producer = AIOKafkaProducer(acks="all", **self.system.kafka.client_kwargs())
        await producer.start()
        keys = []
        try:
            for key, value in records:
                meta = await producer.send_and_wait(topic, value=value, key=key)
                keys.append(f"{topic}:{meta.partition}:{meta.offset}")
        finally:
            await producer.stop()
        self.log.add(f"poison-kafka: {len(records)} records produced to {topic}")
        return keys
