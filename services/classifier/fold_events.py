"""Folds events into their interaction (pure): a call's events into its state, a message's reports into its row."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields

from schemas.events import CallEvent, EmailEvent
from services.classifier.batch_state import Interaction
from services.classifier.classify import CallChange, EmailChange
from services.classifier.correlate import CallState, fold_call
from services.classifier.thread_emails import email_status

EMAIL_PHASE = "seen"  # emails have no call phases; a classified message is "seen"

# What a call's folded state sets on its interaction: every column of CallState but `rang`.
CALL_COLUMNS = tuple(f.name for f in fields(CallState) if f.name != "rang")


def fold_call_into(ix: Interaction, events: Iterable[CallEvent]) -> CallChange:
    """Sets the call's folded state on its interaction; `prior_status` is its final status before (None if none)."""
    prior = ix.auto_status if ix.phase == "ended" else None
    state = fold_call(events)
    for column in CALL_COLUMNS:
        setattr(ix, column, getattr(state, column))
    return CallChange(ix, prior, state.rang)


def fold_email_into(ix: Interaction, event: EmailEvent) -> EmailChange:
    """Classifies a message from its first report consumed (a second provider's report of it changes nothing)."""
    ix.phase = EMAIL_PHASE
    ix.auto_status = email_status(event)
    ix.direction = event.direction
    ix.counterpart = event.counterpart.lower() if event.counterpart else None
    ix.our_address = event.our_address.lower() if event.our_address else None
    ix.started_at = event.sent_at or event.received_at
    return EmailChange(ix, event)
