"""The operator's command `python -m services.classifier offsets skip --topic T --partition P --to OFFSET`: moves
the group's stored offset of one partition forward past a bad range on purpose, audited in offset_gaps."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import asyncpg

from services.classifier.fence_offsets import Gap, lock_offsets, move_offset
from services.runtime.errors import TouchpointError


class SkipRefused(TouchpointError):
    """The skip would move backwards or to where the partition already is: nothing is changed."""


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m services.classifier offsets")
    commands = parser.add_subparsers(dest="command", required=True)
    skip = commands.add_parser("skip", help="continue a partition from OFFSET, never applying the records before it")
    skip.add_argument("--topic", required=True, help="the topic's name on this cluster (with any namespace)")
    skip.add_argument("--partition", required=True, type=int)
    skip.add_argument("--to", required=True, type=int, help="the first offset to apply")
    skip.add_argument("--note", default="", help="why, kept with the audit row")
    return parser.parse_args(argv)


async def skip_offsets(pool: asyncpg.Pool, group_id: str, topic: str, partition: int, to: int, note: str) -> Gap:
    """Workers that own the partition fence off the skipped records (their offsets are below the stored one)."""
    async with pool.acquire() as conn, conn.transaction():
        at = (await lock_offsets(conn, group_id, [(topic, partition)]))[(topic, partition)]
        if to <= at:
            raise SkipRefused(f"{topic}:{partition} already continues from {at}; a skip only moves forward")
        gap = Gap(topic, partition, max(at, 0), to, "operator_skip", to)
        await move_offset(conn, group_id, gap, note)
    return gap
