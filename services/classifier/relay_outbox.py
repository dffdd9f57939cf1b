"""The outbox relay: one per consumer group (an advisory lock elects it) publishes outbox rows in id order and marks
the acknowledged prefix published; a crash in between republishes with the same `event_id`s."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog

from services.runtime.errors import KafkaUnavailable
from services.runtime.kafka import DurableProducer, Outgoing
from services.runtime.postgres import Connection

log = structlog.get_logger(__name__)

_RELAY_LOCK = 0x70C4_0002


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, producer: DurableProducer, batch: int) -> None:
        self._pool = pool
        self._producer = producer
        self._batch = batch
        self.wake = asyncio.Event()
        self.published = 0

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.1
        while not stop.is_set():
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

    async def _lead(self, conn: Connection, stop: asyncio.Event) -> None:
        while not stop.is_set():
            sent = await self.publish_once(conn)
            if sent == 0:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), 0.5)

    async def publish_once(self, conn: Connection) -> int:
        rows = await conn.fetch(
            "SELECT id, topic, key, payload FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1",
            self._batch,
        )
        if not rows:
            return 0
        results = await self._producer.send_batch(
            [Outgoing(r["topic"], r["key"], r["payload"].encode(), {"outbox_id": str(r["id"]).encode()}) for r in rows]
        )
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
        if failures:
            raise KafkaUnavailable(f"{len(failures)} outbox records not acknowledged: {failures[0]!r}")
        return len(done)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
