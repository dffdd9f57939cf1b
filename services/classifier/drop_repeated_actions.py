"""Drops actions already applied (the same action produced twice) and repeats within the batch."""

from __future__ import annotations

from collections.abc import Sequence

from services.classifier.decode import ConsumedRecord
from services.runtime.postgres import Connection


async def new_actions(conn: Connection, actions: Sequence[ConsumedRecord]) -> list[ConsumedRecord]:
    if not actions:
        return []
    seen = {
        row["event_id"]
        for row in await conn.fetch(
            "SELECT event_id FROM applied_actions WHERE event_id = ANY($1::text[])",
            [r.event.event_id for r in actions],
        )
    }
    fresh = []
    for r in actions:
        if r.event.event_id not in seen:
            seen.add(r.event.event_id)
            fresh.append(r)
    return fresh
