"""Writes the batch's outbox: the analyst record of every changed interaction and task, and the dead letters of
refused actions, in the order they happened; the relay (relay_outbox.py) publishes them after the commit."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from schemas.records import DeadLetter, interaction_changed, task_changed
from schemas.topics import DLQ, INTERACTIONS, TASKS, TopicNames
from services.classifier.build_dead_letters import dead_letter_headers
from services.classifier.write_back import Written
from services.runtime.postgres import Connection

OutboxRow = tuple[str, str, str, str | None]
"""(topic, key, payload JSON, Kafka headers as a JSON object of text values or None)"""


def outbox_rows(
    written: Written, dead: Sequence[tuple[str, DeadLetter]], topics: TopicNames, now: datetime
) -> list[OutboxRow]:
    """`dead`: (key, letter) per refused action."""
    rows = [dead_letter_row(topics, key, letter) for key, letter in dead]
    topic = topics(INTERACTIONS)
    rows += [
        (topic, str(ix.id), interaction_changed(ix, now).model_dump_json(by_alias=True), None)
        for ix in written.interactions
    ]
    topic = topics(TASKS)
    rows += [
        (topic, str(task.id), task_changed(task, version, now).model_dump_json(by_alias=True), None)
        for task, version in written.tasks
    ]
    return rows


def dead_letter_row(topics: TopicNames, key: str, letter: DeadLetter) -> OutboxRow:
    return (topics(DLQ), key, letter.model_dump_json(by_alias=True), json.dumps(dead_letter_headers(letter)))


async def write_outbox(conn: Connection, rows: Sequence[OutboxRow]) -> None:
    if not rows:
        return
    await conn.execute(
        """INSERT INTO outbox (topic, key, payload, headers)
           SELECT t, k, p, h FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::jsonb[])
                                  WITH ORDINALITY AS v(t, k, p, h, n)
           ORDER BY n""",
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
    )
