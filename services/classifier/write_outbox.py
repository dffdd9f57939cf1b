"""Writes the batch's outbox: the analyst record of every changed interaction and task, and the dead letters of
refused actions, in the order they happened; the relay (relay_outbox.py) publishes them after the commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from schemas.records import DeadLetter, interaction_changed, task_changed
from schemas.topics import DLQ, INTERACTIONS, TASKS, TopicNames
from services.classifier.write_back import Written
from services.runtime.postgres import Connection

OutboxRow = tuple[str, str, str]
"""(topic, key, payload JSON)"""


def outbox_rows(
    written: Written, dead: Sequence[tuple[str, DeadLetter]], topics: TopicNames, now: datetime
) -> list[OutboxRow]:
    """`dead`: (key, letter) per refused action."""
    rows = [(topics(DLQ), key, letter.model_dump_json(by_alias=True)) for key, letter in dead]
    topic = topics(INTERACTIONS)
    rows += [
        (topic, str(ix.id), interaction_changed(ix, now).model_dump_json(by_alias=True)) for ix in written.interactions
    ]
    topic = topics(TASKS)
    rows += [
        (topic, str(task.id), task_changed(task, version, now).model_dump_json(by_alias=True))
        for task, version in written.tasks
    ]
    return rows


async def write_outbox(conn: Connection, rows: Sequence[OutboxRow]) -> None:
    if not rows:
        return
    await conn.execute(
        """INSERT INTO outbox (topic, key, payload)
           SELECT t, k, p FROM unnest($1::text[], $2::text[], $3::jsonb[]) WITH ORDINALITY AS v(t, k, p, n)
           ORDER BY n""",
        [t for t, _, _ in rows],
        [k for _, k, _ in rows],
        [p for _, _, p in rows],
    )
