"""Applies a batch's events and actions to its loaded state in the order they were consumed (pure), so that no
decision depends on where the stream happens to be cut into batches."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from schemas.events import CallEvent, EmailEvent
from services.classifier.apply_actions import Rejected, apply_action
from services.classifier.batch_state import CLASSIFIER, BatchState, Cause, Interaction
from services.classifier.classify import on_call, on_email
from services.classifier.decode import ConsumedRecord
from services.classifier.fold_events import fold_call_into, fold_email_into
from services.classifier.policy import Policy
from services.classifier.suggest_outcome import refresh_suggestion


@dataclass(frozen=True, slots=True)
class Step:
    """A record applied for the first time; `interaction_id` of a call or email event (None for an action)."""

    record: ConsumedRecord
    interaction_id: uuid.UUID | None = None


def apply_events(
    state: BatchState, steps: Sequence[Step], history: Mapping[uuid.UUID, Sequence[CallEvent]], policy: Policy
) -> dict[str, str]:
    """`history`: the events of calls stored before this batch. Returns the refused actions' reasons by event id.

    A call is refolded when an event may make its final status appear or change (only then does classifying it
    do anything); otherwise only its row changes, which waits until an action might read it or the batch ends.
    Either way every decision sees exactly the events consumed before it."""
    calls = {iid: list(events) for iid, events in history.items()}
    ended = {iid for iid, events in calls.items() if any(e.phase == "ended" for e in events)}
    unfolded: set[uuid.UUID] = set()
    rejected: dict[str, str] = {}
    for step in steps:
        event, iid = step.record.event, step.interaction_id
        if type(event) is CallEvent:  # exact types: isinstance on pydantic models goes through ABCMeta
            assert iid is not None
            events = calls.setdefault(iid, [])
            events.append(event)
            if iid in ended and not _may_change_status(event):
                unfolded.add(iid)  # an ended call's status stays: only its row changes, which can wait too
            elif event.phase == "ended" or iid in ended:
                ended.add(iid)
                unfolded.discard(iid)
                ix = state.interactions[iid]
                with _audited(state, Cause(event.event_id, "call", CLASSIFIER, event.occurred_at), ix):
                    on_call(state, fold_call_into(ix, events), policy)
            else:
                unfolded.add(iid)
        elif type(event) is EmailEvent:
            assert iid is not None
            ix = state.interactions[iid]
            if ix.phase is None:
                with _audited(
                    state, Cause(event.event_id, "email", CLASSIFIER, event.sent_at or event.received_at), ix
                ):
                    on_email(state, fold_email_into(ix, event), policy)
        else:
            assert not isinstance(event, CallEvent | EmailEvent)
            _fold_waiting(state, calls, unfolded)
            try:
                apply_action(state, event, policy)
            except Rejected as exc:
                rejected[event.event_id] = exc.reason
    _fold_waiting(state, calls, unfolded)
    for ix in state.interactions.values():
        refresh_suggestion(ix)
    return rejected


@contextmanager
def _audited(state: BatchState, cause: Cause, ix: Interaction) -> Iterator[None]:
    """The classifier's own changes while it applies an event are audited as the event's: the tasks, leads and
    addresses it changes (batch_state.py), and the call's flag, or its contact once it had one (a first link
    to a contact is the recording of the call, not a change to audit)."""
    before = ix.snapshot()
    state.cause = cause
    try:
        yield
        after = ix.snapshot()
        if before["flag"] != after["flag"] or (before["contact_id"] is not None and before != after):
            state.audit_change("interaction", ix.id, before, after)
    finally:
        state.cause = None


def _may_change_status(event: CallEvent) -> bool:
    """Whether one more event can change the final status of a call that has ended (correlate.fold_call): a
    recording or another `ended` without a provider status or an answer time cannot."""
    return event.status is not None or event.answered_at is not None or event.phase not in ("recording", "ended")


def _fold_waiting(state: BatchState, calls: Mapping[uuid.UUID, list[CallEvent]], unfolded: set[uuid.UUID]) -> None:
    for iid in sorted(unfolded):
        fold_call_into(state.interactions[iid], calls[iid])
    unfolded.clear()
