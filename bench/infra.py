"""Kafka and PostgreSQL for a benchmark run, and the processes under test.

KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL name existing servers; otherwise a local broker and an embedded PostgreSQL
are started here exactly as `make run` and the tests start them (deploy.local), on free loopback ports, with their
data in a scratch folder that is removed afterwards. Every run uses its own topic namespace and database."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from deploy.local.kafka_broker import KAFKA_VERSION, LocalKafka
from deploy.local.postgres import LocalPostgres
from deploy.local.procs import free_port, stop_process
from schemas.topics import ALL_TOPICS
from services.runtime.kafka import ensure_topics
from services.runtime.postgres import create_pool, migrate
from services.runtime.settings import DatabaseSettings, KafkaSettings

REPO = Path(__file__).resolve().parents[1]


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


@dataclass
class Infra:
    workdir: Path
    need_postgres: bool = True
    kafka: LocalKafka | None = None
    postgres: LocalPostgres | None = None
    kafka_bootstrap: str = ""
    postgres_dsn: str = ""
    kafka_version: str = ""

    def start(self) -> None:
        if external := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            self.kafka_bootstrap, self.kafka_version = external, "external (KAFKA_BOOTSTRAP_SERVERS)"
            say(f"using Kafka at {external}")
        else:
            self.kafka = LocalKafka(self.workdir / "kafka", port=free_port())
            say(f"starting a local Kafka {KAFKA_VERSION} broker on {self.kafka.bootstrap} ...")
            started = time.monotonic()
            self.kafka.start()
            self.kafka_bootstrap, self.kafka_version = self.kafka.bootstrap, f"Apache Kafka {KAFKA_VERSION} (local)"
            say(f"Kafka ready in {time.monotonic() - started:.1f}s")
        if not self.need_postgres:
            return
        if external := os.environ.get("DATABASE_URL"):
            self.postgres_dsn = external
            say("using PostgreSQL from DATABASE_URL")
        else:
            self.postgres = LocalPostgres(self.workdir / "postgres", port=free_port())
            say(f"starting embedded PostgreSQL on 127.0.0.1:{self.postgres.port} ...")
            self.postgres.start()
            self.postgres_dsn = self.postgres.dsn
            say("PostgreSQL ready")

    def server_pids(self) -> dict[str, int]:
        """The broker's and PostgreSQL's main pids, when this run started them."""
        pids = {}
        if self.kafka is not None and self.kafka.proc is not None:
            pids["kafka"] = self.kafka.proc.pid
        if self.postgres is not None:
            with contextlib.suppress(OSError, ValueError, IndexError):
                pids["postgres"] = int((self.postgres.pgdata / "postmaster.pid").read_text().split()[0])
        return pids

    def stop(self) -> None:
        if self.kafka is not None:
            self.kafka.stop()
            self.kafka = None
        if self.postgres is not None:
            self.postgres.stop("immediate")
            self.postgres = None

    async def kafka_settings(self, label: str) -> KafkaSettings:
        """Settings with a namespace of this run's own; the catalogue's topics are created in it."""
        settings = KafkaSettings(
            bootstrap_servers=self.kafka_bootstrap,
            TOUCHPOINT_TOPIC_NAMESPACE=f"bench-{label}-{uuid.uuid4().hex[:8]}",
        )
        await ensure_topics(settings, ALL_TOPICS)
        return settings

    async def new_database(self, label: str) -> str:
        """A fresh, migrated database; dropped by `drop_database`."""
        name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(self.postgres_dsn)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        dsn = urlunsplit(urlsplit(self.postgres_dsn)._replace(path=f"/{name}"))
        pool = await create_pool(DatabaseSettings(DATABASE_URL=dsn))
        try:
            await migrate(pool)
        finally:
            await pool.close()
        return dsn

    async def drop_database(self, dsn: str) -> None:
        name = urlsplit(dsn).path.lstrip("/")
        admin = await asyncpg.connect(self.postgres_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def pid_cpu_seconds(pid: int, reaped: bool = False) -> float:
    """User + system CPU time of one process so far (Linux /proc), 0 when unknown; with `reaped`, also that of the
    children it has waited for (cutime + cstime: PostgreSQL's exited backends)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """CPU time of `root`, of every living descendant (PostgreSQL's backends, a JVM under a wrapper) and of the
    exited ones (counted in their parents once reaped), so it only grows."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += pid_cpu_seconds(pid, reaped=True)
        todo += children.get(pid, [])
    return total


def machine_busy_seconds() -> float:
    """CPU time all cores spent not idle since boot (/proc/stat), 0 when unknown."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def pinned(argv: list[str], cpus: str | None) -> list[str]:
    """`taskset -c cpus argv` when pinning is asked for and possible."""
    if cpus is None or shutil.which("taskset") is None:
        return argv
    return ["taskset", "-c", cpus, *argv]


@dataclass
class Child:
    """A process under test (a service, the no-op app, a load generator) with its own log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    cpus: str | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                pinned(self.argv, self.cpus),
                env={**os.environ, **self.env},
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, url: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.tail()}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback URL we built
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready in {timeout_s}s: {self.tail()}")

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.proc.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (Linux /proc), 0 when unknown."""
        return 0.0 if self.proc is None else pid_cpu_seconds(self.proc.pid)

    def tail(self, chars: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=30)
            self.proc = None


def service(name: str, env: dict[str, str], log_dir: Path, cpus: str | None = None) -> Child:
    return Child(name, [sys.executable, "-m", f"services.{name}"], env, log_dir / f"{name}.log", cpus)
