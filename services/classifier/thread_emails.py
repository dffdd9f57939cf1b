"""Email threading and status (pure).

A message's interaction id comes from its Message-ID, so the same message seen by two providers is one
interaction. Its thread is the thread of the first message it refers to that we know (In-Reply-To, then
References newest first); failing that, the root its References name (the first one, by RFC 5322 practice), its
In-Reply-To, or itself. For well-formed mail that root is the same whatever order the messages arrive in."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping

from schemas.events import EmailEvent
from schemas.records import EmailStatus

_EMAIL_NS = uuid.UUID("9e3b1f0c-2d47-4b8e-a5c6-71d0e4f2b913")
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
_BOUNCE_LOCALS = ("mailer-daemon", "postmaster")


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
    if event.is_bounce or _is_bounce_sender(event.sender.address if event.sender else event.envelope_from):
        return "bounce"
    if event.is_auto_reply or (event.auto_submitted is not None and event.auto_submitted.lower() != "no"):
        return "auto_reply"
    if event.list_unsubscribe or (event.precedence or "").lower() in _BULK_PRECEDENCE:
        return "bulk"
    return "sent" if event.direction == "outbound" else "received"


def _is_bounce_sender(address: str | None) -> bool:
    return address is not None and address.lower().split("@", 1)[0] in _BOUNCE_LOCALS


def canonical(events: Iterable[EmailEvent]) -> EmailEvent:
    """One message seen several times (providers, retries): the earliest report wins, deterministically."""
    return min(events, key=lambda e: (e.received_at, e.event_id))
