"""Records a batch's calls and emails: their interaction rows (created once) and the event log (once per event_id)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from schemas.events import CallEvent, EmailEvent
from services.classifier.decode import ConsumedRecord
from services.classifier.map_rows import INTERACTION_EVENTS
from services.classifier.thread_emails import message_key
from services.runtime.postgres import Connection

_INSERT_EVENTS = f"""INSERT INTO interaction_events (event_id, interaction_id, topic, partition, "offset", occurred_at,
                                                 payload)
    SELECT * FROM {INTERACTION_EVENTS.unnest()}
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id"""  # noqa: S608 - fixed column names


async def record_calls(conn: Connection, calls: Sequence[tuple[uuid.UUID, ConsumedRecord]]) -> set[str]:
    """Creates the calls' interactions (no state yet); returns the ids of the events seen for the first time."""
    first: dict[uuid.UUID, CallEvent] = {}
    rows = []
    for iid, r in calls:
        assert type(r.event) is CallEvent
        first.setdefault(iid, r.event)
        rows.append((iid, r, r.event.occurred_at))
    await conn.execute(
        """INSERT INTO interactions (id, kind, source, external_id, direction)
           SELECT id, 'call', s, x, d FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS v(id, s, x, d)
           ORDER BY id ON CONFLICT DO NOTHING""",
        list(first),
        [e.source for e in first.values()],
        [e.call_id for e in first.values()],
        [e.direction for e in first.values()],
    )
    return await _insert_events(conn, rows)


async def record_emails(
    conn: Connection, emails: Sequence[tuple[uuid.UUID, ConsumedRecord]], threads: Mapping[str, uuid.UUID]
) -> set[str]:
    """Creates the messages' interactions in their threads; returns the ids of the events seen for the first time."""
    first: dict[uuid.UUID, EmailEvent] = {}
    rows = []
    for iid, r in emails:
        assert type(r.event) is EmailEvent
        first.setdefault(iid, r.event)
        rows.append((iid, r, r.event.sent_at or r.event.received_at))
    await conn.execute(
        """INSERT INTO interactions (id, kind, source, external_id, direction, thread_id)
           SELECT id, 'email', s, x, d, t
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[]) AS v(id, s, x, d, t)
           ORDER BY id ON CONFLICT DO NOTHING""",
        list(first),
        [e.source for e in first.values()],
        [message_key(e) for e in first.values()],
        [e.direction for e in first.values()],
        [threads[message_key(e)] for e in first.values()],
    )
    return await _insert_events(conn, rows)


async def _insert_events(conn: Connection, rows: Sequence[tuple[uuid.UUID, ConsumedRecord, object]]) -> set[str]:
    if not rows:
        return set()
    inserted = await conn.fetch(
        _INSERT_EVENTS,
        *INTERACTION_EVENTS.arrays(
            [
                (
                    r.event.event_id,
                    iid,
                    r.topic,
                    r.partition,
                    r.offset,
                    at,
                    r.raw.decode() if r.raw is not None else r.event.model_dump_json(by_alias=True, exclude_none=True),
                )
                for iid, r, at in rows
            ]
        ),
    )
    return {row["event_id"] for row in inserted}
