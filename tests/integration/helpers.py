"""Helpers for integration tests: running a service as a real child process, reading topics, signing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from deploy.local.procs import free_port
from services.ingest.calls.generic import sign_generic
from services.runtime.settings import KafkaSettings

REPO = Path(__file__).resolve().parents[2]
GENERIC_SECRET = "test-generic-secret"


@dataclass
class ServiceProcess:
    """`python -m services.<name>` with its own environment, log file and port."""

    name: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        key = {
            "ingest": "TOUCHPOINT_INGEST_PORT",
            "classifier": "TOUCHPOINT_CLASSIFIER_PORT",
            "reporting": "TOUCHPOINT_REPORTING_PORT",
        }[self.name]
        self.env = {**os.environ, **self.env, key: str(self.port), "TOUCHPOINT_LOG_FORMAT": "json"}
        if self.name == "ingest":  # ingest also listens for SMTP; tests must not collide on 2525
            self.env.setdefault("TOUCHPOINT_SMTP_PORT", str(free_port()))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 60, *, wait_ready: bool = True) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.name}"],
            env=self.env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        if not wait_ready:
            return
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.logs()[-3000:]}")
                try:
                    async with session.get(f"{self.url}/readyz", timeout=aiohttp.ClientTimeout(total=2)) as r:
                        if r.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready in {timeout}s:\n{self.logs()[-3000:]}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def wait_exit(self, timeout: float = 60) -> int:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if self.proc.poll() is None:
            raise TimeoutError(f"{self.name} still running after {timeout}s")
        return self.proc.returncode

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return await self.wait_exit(timeout)
        except TimeoutError:
            self.proc.kill()
            return await self.wait_exit(10)


@contextlib.asynccontextmanager
async def running(env: dict[str, str], log_dir: Path, *names: str) -> AsyncIterator[dict[str, ServiceProcess]]:
    """The services started in order and stopped with SIGTERM at the end, each of which must exit 0."""
    procs = {name: ServiceProcess(name, env, log_dir / f"{name}.log") for name in names}
    try:
        for proc in procs.values():
            await proc.start()
        yield procs
    finally:
        exit_codes = {name: await proc.stop() for name, proc in procs.items()}
    assert exit_codes == dict.fromkeys(procs, 0), "every service shuts down cleanly on SIGTERM"


def service_env(kafka: KafkaSettings, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "TOUCHPOINT_TOPIC_NAMESPACE": kafka.topic_namespace,
        "TOUCHPOINT_GENERIC_SECRET": GENERIC_SECRET,
        "TOUCHPOINT_ID_KEY": "test-touchpoint-id-key",
        "TOUCHPOINT_CLASSIFIER_GROUP_ID": f"{kafka.topic_namespace}-classifier",
        "TOUCHPOINT_CLASSIFIER_BATCH_WAIT_MS": "50",
        "TOUCHPOINT_CLASSIFIER_SESSION_TIMEOUT_MS": "6000",
        **extra,
    }
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env


def signed_headers(body: bytes, secret: str = GENERIC_SECRET, at: int | None = None) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Touchpoint-Signature": sign_generic(secret.encode(), int(time.time()) if at is None else at, body),
    }


def call_body(call_id: str, event: str = "ended", **fields: Any) -> bytes:
    body: dict[str, Any] = {
        "call_id": call_id,
        "event": event,
        "occurred_at": "2026-11-26T10:00:00Z",
        "direction": "inbound",
        "from": "+14155550123",
        "to": "+14155550100",
        **fields,
    }
    if event == "ended":
        body.setdefault("status", "missed")
    return json.dumps(body).encode()


async def read_topic(
    kafka: KafkaSettings, topic: str, *, expect: int | None = None, timeout: float = 20.0
) -> list[ConsumerRecord]:
    """Every record of `topic` from the beginning (no consumer group); waits for `expect` records if given,
    else returns what is there once the end offsets are reached."""
    consumer = AIOKafkaConsumer(
        enable_auto_commit=False, auto_offset_reset="earliest", group_id=None, **kafka.client_kwargs()
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            records.extend(r for rs in batch.values() for r in rs)
            if expect is not None:
                if len(records) >= expect:
                    break
                continue
            end = await consumer.end_offsets(partitions)
            positions = [await consumer.position(tp) for tp in partitions]
            if all(pos >= end[tp] for pos, tp in zip(positions, partitions, strict=True)):
                break
        return records
    finally:
        await consumer.stop()


async def eventually(check: Any, timeout: float = 20.0, interval: float = 0.2) -> Any:
    """Awaits `check()` until it returns a truthy value; returns it, or fails with the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


def headers_of(record: ConsumerRecord) -> Mapping[str, bytes]:
    return dict(record.headers or ())
