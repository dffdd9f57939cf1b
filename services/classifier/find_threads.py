"""Threads a batch's messages against the database: each message joins the thread of a message it refers to that
is stored or earlier in the stream, in the order the messages were consumed (rules: thread_emails.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from schemas.events import EmailEvent
from services.classifier.thread_emails import message_key, referenced, thread_of
from services.runtime.postgres import Connection


async def find_threads(conn: Connection, emails: Sequence[EmailEvent]) -> tuple[dict[str, uuid.UUID], set[str]]:
    """Returns the thread per message key, and every message key the batch's messages refer to."""
    keys = {message_key(e) for e in emails}
    refs = {ref for e in emails for ref in referenced(e)}
    known: dict[str, uuid.UUID] = {
        row["external_id"]: row["thread_id"]
        for row in await conn.fetch(
            """SELECT external_id, thread_id FROM interactions
               WHERE kind = 'email' AND external_id = ANY($1::text[])""",
            sorted(keys | refs),
        )
        if row["thread_id"] is not None
    }
    threads: dict[str, uuid.UUID] = {}
    for e in emails:
        key = message_key(e)
        thread = known.get(key) or thread_of(e, known)
        known[key] = threads[key] = thread
    return threads, refs
