"""Email threading and status (pure): a message's interaction from its Message-ID, its thread from the messages it
refers to (rules in docs/classifier.md, "Emails: threading and status")."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping

from schemas.events import EmailEvent
from schemas.records import EmailStatus

_EMAIL_NS = uuid.UUID("9e3b1f0c-2d47-4b8e-a5c6-71d0e4f2b913")
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})


def message_key(event: EmailEvent) -> str:
    return normalize_message_id(event.message_id) if event.message_id else f"event:{event.event_id}"


def normalize_message_id(value: str) -> str:
    return value.strip().strip("<>").strip().lower()


def email_interaction_id(event: EmailEvent) -> uuid.UUID:
    return interaction_id_for_key(message_key(event))


@functools.lru_cache(maxsize=1 << 16)  # a uuid5 per message key and reference, often asked again
def interaction_id_for_key(key: str) -> uuid.UUID:
    """The interaction of the message whose normalized Message-ID (or `event:<id>`) is `key`."""
    return uuid.uuid5(_EMAIL_NS, f"email:{key}")


def thread_id_for_root(root: str) -> uuid.UUID:
    return uuid.uuid5(_EMAIL_NS, f"thread:{root}")


def referenced(event: EmailEvent) -> list[str]:
    """The message ids this one refers to, most direct first."""
    refs = [event.in_reply_to] if event.in_reply_to else []
    refs.extend(reversed(event.references))
    seen: list[str] = []
    for r in refs:
        n = normalize_message_id(r)
        if n and n not in seen:
            seen.append(n)
    return seen


def thread_of(event: EmailEvent, known: Mapping[str, uuid.UUID]) -> uuid.UUID:
    """`known`: thread id per normalized message id already seen (earlier batches and earlier in this one)."""
    for ref in referenced(event):
        if (thread := known.get(ref)) is not None:
            return thread
    if event.references:
        root = normalize_message_id(event.references[0])
    elif event.in_reply_to:
        root = normalize_message_id(event.in_reply_to)
    else:
        root = message_key(event)
    return thread_id_for_root(root)


def email_status(event: EmailEvent) -> EmailStatus:
    """Bounces and automatic replies are recognized once, by ingest (services/ingest/parse_email.py)."""
    if event.is_bounce:
        return "bounce"
    if event.is_auto_reply:
        return "auto_reply"
    if event.list_unsubscribe or (event.precedence or "").lower() in _BULK_PRECEDENCE:
        return "bulk"
    return "sent" if event.direction == "outbound" else "received"
