"""The outbox relay: one per consumer group (an advisory lock elects it) publishes outbox rows in id order and marks
the acknowledged prefix published; a crash in between republishes with the same `event_id`s. It dead-letters a row
the broker can never take (too large, invalid) instead of stopping on it, and prunes relayed rows."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from aiokafka.errors import (
    CorruptRecordException,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)

from schemas.records import DeadLetter
from schemas.topics import DLQ, TopicNames
from services.classifier.build_dead_letters import dead_letter_headers
from services.runtime.errors import KafkaUnavailable
from services.runtime.kafka import DurableProducer, Outgoing
from services.runtime.postgres import Connection

log = structlog.get_logger(__name__)

_RELAY_LOCK = 0x70C4_0002

# What the broker refuses for the record itself: sending it again can never succeed.
_NEVER_PRODUCIBLE = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError, CorruptRecordException)

_DEAD_PAYLOAD_CHARS = 65536


@dataclass(frozen=True, slots=True)
class RelayLimits:
    """`batch` rows per send; relayed rows older than `retention_s` are deleted, `prune_batch` per statement, at
    most every `prune_every_s`; the relay counts as alive while its loop turned within `stale_after_s`."""

    batch: int = 1000
    retention_s: float = 7 * 24 * 3600
    prune_batch: int = 5000
    prune_every_s: float = 60.0
    stale_after_s: float = 60.0


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, producer: DurableProducer, limits: RelayLimits, topics: TopicNames) -> None:
        self._pool = pool
        self._producer = producer
        self._limits = limits
        self._topics = topics
        self.wake = asyncio.Event()
        self.published = 0
        self.dead_lettered = 0
        self.pruned = 0
        self._beat = float("-inf")
        self._pruned_at = float("-inf")

    def alive(self, task: asyncio.Task[None]) -> bool:
        """For readiness: the relay task has not ended and its loop turned recently (leading or waiting to)."""
        return not task.done() and asyncio.get_running_loop().time() - self._beat < self._limits.stale_after_s

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.1
        while not stop.is_set():
            self._heartbeat()
            try:
                async with self._pool.acquire() as conn:
                    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LOCK):
                        await _wait(stop, 2.0)
                        continue
                    try:
                        await self._lead(conn, stop)
                    finally:
                        with contextlib.suppress(Exception):
                            await conn.execute("SELECT pg_advisory_unlock($1)", _RELAY_LOCK)
                backoff = 0.1
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, KafkaUnavailable) as exc:
                log.warning("outbox.relay_retry", error=repr(exc), backoff_s=backoff)
                await _wait(stop, backoff)
                backoff = min(backoff * 2, 10.0)

    def _heartbeat(self) -> None:
        self._beat = asyncio.get_running_loop().time()

    async def _lead(self, conn: Connection, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._heartbeat()
            sent = await self.publish_once(conn)
            if asyncio.get_running_loop().time() - self._pruned_at >= self._limits.prune_every_s:
                await self.prune(conn)
            if sent == 0:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), 0.5)

    async def publish_once(self, conn: Connection) -> int:
        rows = await conn.fetch(
            "SELECT id, topic, key, payload, headers FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1",
            self._limits.batch,
        )
        if not rows:
            return 0
        results = await self._producer.send_batch([_outgoing(r) for r in rows])
        # Mark only the acknowledged prefix: a later record of a key must never be final while an earlier one
        # is still to be sent, or a consumer would end on the older state.
        done: list[int] = []
        for row, res in zip(rows, results, strict=True):
            if res is not None:
                break
            done.append(row["id"])
        if done:
            await conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", done)
            self.published += len(done)
        failures = [res for res in results if res is not None]
        if not failures:
            return len(done)
        first = results[len(done)]
        if first is not None and isinstance(first.__cause__, _NEVER_PRODUCIBLE):
            # A batch fails whole on one record: alone, the record is either sent or shown to be the one.
            return len(done) + await self._send_alone(conn, rows[len(done)])
        raise KafkaUnavailable(f"{len(failures)} outbox records not acknowledged: {failures[0]!r}")

    async def _send_alone(self, conn: Connection, row: asyncpg.Record) -> int:
        (res,) = await self._producer.send_batch([_outgoing(row)])
        if res is None:
            await conn.execute("UPDATE outbox SET published_at = now() WHERE id = $1", row["id"])
            self.published += 1
            return 1
        if not isinstance(res.__cause__, _NEVER_PRODUCIBLE):
            raise res
        reason = f"{type(res.__cause__).__name__}: {res.__cause__}"
        letter = DeadLetter(
            event_id=f"outbox:{row['id']}",
            source_topic=row["topic"],
            source_partition=-1,
            source_offset=row["id"],
            reason=f"the relay can never produce this outbox record: {reason}",
            error_class=type(res.__cause__).__name__,
            payload=row["payload"][:_DEAD_PAYLOAD_CHARS],
            first_seen_at=datetime.now(UTC),
        )
        headers = {name: value.encode() for name, value in dead_letter_headers(letter).items()}
        headers["outbox_id"] = str(row["id"]).encode()
        (sent,) = await self._producer.send_batch(
            [Outgoing(self._topics(DLQ), letter.event_id, letter.model_dump_json(by_alias=True).encode(), headers)]
        )
        if sent is not None:
            raise sent
        await conn.execute(
            "UPDATE outbox SET published_at = now(), failed_reason = $2 WHERE id = $1", row["id"], reason[:1000]
        )
        log.error("outbox.dead_lettered", outbox_id=row["id"], topic=row["topic"], reason=reason[:500])
        self.dead_lettered += 1
        return 1

    async def prune(self, conn: Connection) -> int:
        """Deletes relayed rows older than the retention, in bounded statements (short locks, small WAL bursts)."""
        self._pruned_at = asyncio.get_running_loop().time()
        deleted = 0
        while True:
            status = await conn.execute(
                """DELETE FROM outbox WHERE id IN (
                       SELECT id FROM outbox WHERE published_at < now() - make_interval(secs => $1)
                       ORDER BY published_at LIMIT $2)""",
                self._limits.retention_s,
                self._limits.prune_batch,
            )
            n = int(status.split()[-1])
            deleted += n
            if n < self._limits.prune_batch:
                break
        if deleted:
            self.pruned += deleted
            log.info("outbox.pruned", rows=deleted, retention_s=self._limits.retention_s)
        return deleted


def _outgoing(row: asyncpg.Record) -> Outgoing:
    headers: dict[str, Any] = json.loads(row["headers"]) if row["headers"] else {}
    encoded = {name: str(value).encode() for name, value in headers.items()}
    encoded["outbox_id"] = str(row["id"]).encode()
    return Outgoing(row["topic"], row["key"], row["payload"].encode(), encoded)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
