"""The offset fence: the consumed offsets stored in PostgreSQL, locked, checked and advanced in the batch's
transaction, so that no record is applied twice or skipped, whatever crashes or rebalances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg

from services.classifier.decode import ConsumedRecord
from services.runtime.postgres import Connection

TopicPartition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class OffsetRange:
    """Offsets `first` .. `next - 1` of one partition were fetched in this batch (valid or dead-lettered)."""

    first: int
    next: int


@dataclass
class Fenced:
    """A batch after the fence: the records to apply, the partitions whose offsets advance, those to rewind."""

    fresh: list[ConsumedRecord]
    accepted: dict[TopicPartition, OffsetRange]
    rewind: dict[TopicPartition, int] = field(default_factory=dict)
    stale: int = 0


def fence(
    records: Sequence[ConsumedRecord],
    ranges: Mapping[TopicPartition, OffsetRange],
    stored: Mapping[TopicPartition, int],
) -> Fenced:
    """Records before the stored offset were applied already (skip them); a partition whose batch starts after it
    would leave a gap (refuse it and rewind to the stored offset)."""
    result = Fenced([], {})
    for tp, rng in ranges.items():
        at = stored.get(tp, -1)
        if at >= 0 and at < rng.first:
            result.rewind[tp] = at
        elif at < rng.next:
            result.accepted[tp] = rng
    result.fresh = [
        r
        for r in records
        if (r.topic, r.partition) in result.accepted and r.offset >= stored.get((r.topic, r.partition), -1)
    ]
    result.stale = len(records) - len(result.fresh) - sum(1 for r in records if (r.topic, r.partition) in result.rewind)
    return result


async def stored_offsets(
    pool: asyncpg.Pool, group_id: str, partitions: Sequence[TopicPartition]
) -> dict[TopicPartition, int]:
    """Where each partition continues from (only partitions this group has stored an offset for)."""
    rows = await pool.fetch(
        """SELECT topic, partition, next_offset FROM consumer_offsets
           WHERE group_id = $1 AND (topic, partition) IN
                 (SELECT * FROM unnest($2::text[], $3::int[]))""",
        group_id,
        [t for t, _ in partitions],
        [p for _, p in partitions],
    )
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows if r["next_offset"] >= 0}


async def lock_offsets(conn: Connection, group_id: str, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
    """Locks the stored offset of every partition in the batch (creating missing rows at -1: nothing applied)."""
    topics, partitions = [t for t, _ in tps], [p for _, p in tps]
    await conn.execute(
        """INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
           SELECT $1, t, p, -1 FROM unnest($2::text[], $3::int[]) AS v(t, p)
           ON CONFLICT DO NOTHING""",
        group_id,
        topics,
        partitions,
    )
    rows = await conn.fetch(
        """SELECT topic, partition, next_offset FROM consumer_offsets
           WHERE group_id = $1 AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[]))
           ORDER BY topic, partition FOR UPDATE""",
        group_id,
        topics,
        partitions,
    )
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}


async def advance_offsets(conn: Connection, group_id: str, accepted: Mapping[TopicPartition, OffsetRange]) -> None:
    if not accepted:
        return
    await conn.execute(
        """UPDATE consumer_offsets o SET next_offset = v.next_offset, updated_at = now()
           FROM unnest($2::text[], $3::int[], $4::bigint[]) AS v(topic, partition, next_offset)
           WHERE o.group_id = $1 AND o.topic = v.topic AND o.partition = v.partition""",
        group_id,
        [t for t, _ in accepted],
        [p for _, p in accepted],
        [r.next for r in accepted.values()],
    )


@dataclass(frozen=True, slots=True)
class Gap:
    """Offsets `from_offset` .. `to_offset - 1` of a partition that will never be applied, and why."""

    topic: str
    partition: int
    from_offset: int
    to_offset: int
    reason: str
    resume_at: int


def find_gaps(stored: Mapping[TopicPartition, int], bounds: Mapping[TopicPartition, tuple[int, int]]) -> list[Gap]:
    """The partitions whose stored offset is outside the log (`bounds`: first and next offset the log holds).

    Below the log start (retention deleted records never applied): resume at the log start. Above the log end
    (the topic was recreated, or its log truncated): resume at the log start too; whatever of the new log was
    applied already is recognized by its event id (interaction_events) and not applied twice."""
    gaps = []
    for (topic, partition), at in sorted(stored.items()):
        if at < 0 or (topic, partition) not in bounds:
            continue
        start, end = bounds[(topic, partition)]
        if at < start:
            gaps.append(Gap(topic, partition, at, start, "below_log_start", start))
        elif at > end:
            gaps.append(Gap(topic, partition, end, at, "above_log_end", start))
    return gaps


async def reconcile_offsets(
    pool: asyncpg.Pool, group_id: str, bounds: Mapping[TopicPartition, tuple[int, int]]
) -> list[Gap]:
    """Moves every stored offset outside its log to where `find_gaps` says, recording each gap, in one transaction
    with the offsets locked (a worker applying a batch of the partition meanwhile is fenced, not overwritten)."""
    async with pool.acquire() as conn, conn.transaction():
        gaps = find_gaps(await lock_offsets(conn, group_id, sorted(bounds)), bounds)
        for gap in gaps:
            await move_offset(conn, group_id, gap, "")
    return gaps


async def move_offset(conn: Connection, group_id: str, gap: Gap, detail: str) -> None:
    """Sets the partition's stored offset to `gap.resume_at` and audits the gap (offset_gaps)."""
    await conn.execute(
        """UPDATE consumer_offsets SET next_offset = $4, updated_at = now()
           WHERE group_id = $1 AND topic = $2 AND partition = $3""",
        group_id,
        gap.topic,
        gap.partition,
        gap.resume_at,
    )
    await conn.execute(
        """INSERT INTO offset_gaps (group_id, topic, partition, from_offset, to_offset, reason, detail)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        group_id,
        gap.topic,
        gap.partition,
        gap.from_offset,
        gap.to_offset,
        gap.reason,
        detail,
    )
