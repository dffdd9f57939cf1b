"""Applying a batch to PostgreSQL in one transaction: the consumed offsets (fenced), the event log, the
folded interaction state and the outbox records describing each change.

The offsets stored here are the truth about what has been applied. Inside the transaction the stored offset of
each partition is locked, records before it are skipped (someone already applied them) and a batch that does
not start where the stored offset says is refused for that partition (the consumer rewinds). So a crash at any
point, a replay, or two workers briefly owning one partition during a rebalance cannot apply a record twice."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from schemas.events import CallEvent
from schemas.records import InteractionChanged
from schemas.topics import INTERACTIONS, TopicNames
from services.classifier.correlate import CallState, fold_call, interaction_id
from services.runtime.postgres import Connection

TopicPartition = tuple[str, int]

_STATE_COLUMNS = (
    "phase",
    "auto_status",
    "direction",
    "counterpart",
    "counterpart_raw",
    "our_address",
    "agent",
    "started_at",
    "answered_at",
    "ended_at",
    "duration_s",
    "talk_s",
    "recording_ref",
)


@dataclass(frozen=True, slots=True)
class ConsumedRecord:
    topic: str
    partition: int
    offset: int
    event: CallEvent


@dataclass(frozen=True, slots=True)
class OffsetRange:
    """Offsets `first` .. `next - 1` of one partition were fetched in this batch (valid or dead-lettered)."""

    first: int
    next: int


@dataclass
class BatchResult:
    applied: int = 0
    duplicates: int = 0
    stale: int = 0
    changed: list[str] = field(default_factory=list)
    rewind: dict[TopicPartition, int] = field(default_factory=dict)


class Store:
    def __init__(self, pool: asyncpg.Pool, group_id: str, topics: TopicNames) -> None:
        self._pool = pool
        self._topics = topics
        self._group_id = group_id

    async def stored_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        rows = await self._pool.fetch(
            """SELECT topic, partition, next_offset FROM consumer_offsets
               WHERE group_id = $1 AND (topic, partition) IN
                     (SELECT * FROM unnest($2::text[], $3::int[]))""",
            self._group_id,
            [t for t, _ in partitions],
            [p for _, p in partitions],
        )
        return {(r["topic"], r["partition"]): r["next_offset"] for r in rows if r["next_offset"] >= 0}

    async def apply_batch(
        self,
        records: Sequence[ConsumedRecord],
        ranges: Mapping[TopicPartition, OffsetRange],
        before_commit: Callable[[], None] = lambda: None,
    ) -> BatchResult:
        result = BatchResult()
        async with self._pool.acquire() as conn, conn.transaction():
            stored = await self._lock_offsets(conn, list(ranges))
            accepted: dict[TopicPartition, OffsetRange] = {}
            for tp, rng in ranges.items():
                at = stored.get(tp, -1)
                if at >= 0 and at < rng.first:
                    result.rewind[tp] = at  # a gap: records before this batch were never applied
                elif at < rng.next:
                    accepted[tp] = rng
            fresh = [
                r
                for r in records
                if (r.topic, r.partition) in accepted and r.offset >= stored.get((r.topic, r.partition), -1)
            ]
            result.stale = (
                len(records) - len(fresh) - sum(1 for r in records if (r.topic, r.partition) in result.rewind)
            )
            if fresh:
                await self._apply_events(conn, fresh, result)
            if accepted:
                await conn.execute(
                    """UPDATE consumer_offsets o SET next_offset = v.next_offset, updated_at = now()
                       FROM unnest($2::text[], $3::int[], $4::bigint[]) AS v(topic, partition, next_offset)
                       WHERE o.group_id = $1 AND o.topic = v.topic AND o.partition = v.partition""",
                    self._group_id,
                    [t for t, _ in accepted],
                    [p for _, p in accepted],
                    [r.next for r in accepted.values()],
                )
            before_commit()
        return result

    async def _lock_offsets(self, conn: Connection, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        topics, partitions = [t for t, _ in tps], [p for _, p in tps]
        await conn.execute(
            """INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
               SELECT $1, t, p, -1 FROM unnest($2::text[], $3::int[]) AS v(t, p)
               ON CONFLICT DO NOTHING""",
            self._group_id,
            topics,
            partitions,
        )
        rows = await conn.fetch(
            """SELECT topic, partition, next_offset FROM consumer_offsets
               WHERE group_id = $1 AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[]))
               ORDER BY topic, partition FOR UPDATE""",
            self._group_id,
            topics,
            partitions,
        )
        return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}

    async def _apply_events(self, conn: Connection, records: Sequence[ConsumedRecord], result: BatchResult) -> None:
        by_id = {interaction_id(r.event.source, r.event.call_id): r.event for r in records}
        await conn.executemany(
            """INSERT INTO interactions (id, kind, source, external_id, direction)
               VALUES ($1, 'call', $2, $3, $4) ON CONFLICT (id) DO NOTHING""",
            [(iid, e.source, e.call_id, e.direction) for iid, e in sorted(by_id.items())],
        )
        inserted = await conn.fetch(
            """INSERT INTO interaction_events (event_id, interaction_id, topic, partition, "offset", occurred_at,
                                               payload)
               SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::int[], $5::bigint[],
                                    $6::timestamptz[], $7::jsonb[])
               ON CONFLICT (event_id) DO NOTHING
               RETURNING interaction_id""",
            [r.event.event_id for r in records],
            [interaction_id(r.event.source, r.event.call_id) for r in records],
            [r.topic for r in records],
            [r.partition for r in records],
            [r.offset for r in records],
            [r.event.occurred_at for r in records],
            [r.event.model_dump_json(by_alias=True, exclude_none=True) for r in records],
        )
        result.applied = len(inserted)
        result.duplicates = len(records) - len(inserted)
        touched = sorted({row["interaction_id"] for row in inserted})
        if not touched:
            return
        current = {
            r["id"]: r
            for r in await conn.fetch(
                "SELECT * FROM interactions WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE", touched
            )
        }
        events: dict[Any, list[CallEvent]] = {iid: [] for iid in touched}
        for row in await conn.fetch(
            "SELECT interaction_id, payload FROM interaction_events WHERE interaction_id = ANY($1::uuid[])",
            touched,
        ):
            events[row["interaction_id"]].append(CallEvent.model_validate_json(row["payload"]))
        now = datetime.now(UTC)
        updates: list[tuple[Any, ...]] = []
        outbox: list[tuple[str, str, str]] = []
        for iid in touched:
            state = fold_call(events[iid])
            row = current[iid]
            if all(row[c] == getattr(state, c) for c in _STATE_COLUMNS):
                continue
            version = row["version"] + (0 if row["phase"] is None else 1)
            updates.append((iid, version, *(getattr(state, c) for c in _STATE_COLUMNS)))
            record = _interaction_record(str(iid), version, row["source"], state, now)
            outbox.append((self._topics(INTERACTIONS), str(iid), record.model_dump_json(by_alias=True)))
            result.changed.append(str(iid))
        if updates:
            sets = ", ".join(f"{c} = ${i + 3}" for i, c in enumerate(_STATE_COLUMNS))
            await conn.executemany(
                f"UPDATE interactions SET version = $2, {sets}, updated_at = now() WHERE id = $1",  # noqa: S608 - fixed column names
                updates,
            )
            await conn.executemany("INSERT INTO outbox (topic, key, payload) VALUES ($1, $2, $3::jsonb)", outbox)


def _interaction_record(iid: str, version: int, source: str, state: CallState, now: datetime) -> InteractionChanged:
    return InteractionChanged(
        event_id=f"{iid}:{version}",
        interaction_id=iid,
        version=version,
        kind="call",
        source=source,
        direction=state.direction,
        auto_status=state.auto_status,
        manager_id=None,
        contact_id=None,
        started_at=state.started_at,
        answered_at=state.answered_at,
        ended_at=state.ended_at,
        duration_s=state.duration_s,
        talk_s=state.talk_s,
        changed_at=now,
    )
