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
