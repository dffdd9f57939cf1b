"""Builders for classifier unit tests: call and email events, and a batch state with managers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.events import CallEvent, CallPhase, CallStatus, Direction, EmailAddress, EmailEvent, PhoneAddress
from services.classifier.batch_state import BatchState, Interaction, Manager
from services.classifier.correlate import interaction_id
from services.classifier.fold_events import fold_call_into
from services.classifier.policy import BusinessHours, Policy

# A Thursday, 10:00 UTC: inside business hours.
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
OWN = "+14155550100"
CLIENT = "+14155550123"
POLICY = Policy(
    own_numbers=frozenset({OWN}),
    mail_domains=frozenset({"example.com"}),
    hours=BusinessHours.parse("mon-fri 09:00-18:00", "UTC"),
)


def call_event(
    call_id: str,
    phase: CallPhase,
    seconds: float,
    *,
    status: CallStatus | None = None,
    agent: str | None = None,
    counterpart: str | None = CLIENT,
    direction: Direction = "inbound",
    talk_s: int | None = None,
    leg: str | None = None,
    t0: datetime = T0,
    e164: str | bool | None = True,
) -> CallEvent:
    """`e164`: the normalized form ingest gives (True: the counterpart itself when it starts with +)."""
    return CallEvent(
        event_id=f"{call_id}-{phase}-{seconds}-{leg}-{agent}",
        source="generic",
        call_id=call_id,
        leg_id=leg,
        phase=phase,
        status=status,
        direction=direction,
        counterpart=PhoneAddress(
            raw=counterpart,
            e164=(counterpart if counterpart.startswith("+") else None) if e164 is True else e164 or None,
        )
        if counterpart
        else None,
        our_number=PhoneAddress(raw=OWN, e164=OWN),
        agent=agent,
        occurred_at=t0 + timedelta(seconds=seconds),
        received_at=t0 + timedelta(seconds=seconds + 1),
        talk_s=talk_s,
    )


def answered(call_id: str, *, talk: int = 60, agent: str = "101", **kw: Any) -> list[CallEvent]:
    return [
        call_event(call_id, "initiated", 0, **kw),
        call_event(call_id, "ringing", 1, agent=agent, **kw),
        call_event(call_id, "answered", 5, agent=agent, **kw),
        call_event(call_id, "ended", 5 + talk, status="answered", talk_s=talk, agent=agent, **kw),
    ]


def missed(call_id: str, *, agent: str | None = "101", ring: int = 20, **kw: Any) -> list[CallEvent]:
    events = [call_event(call_id, "initiated", 0, **kw)]
    if agent:
        events.append(call_event(call_id, "ringing", 1, agent=agent, **kw))
    events.append(call_event(call_id, "ended", ring, **kw))
    return events


def folded(state: BatchState, events: list[CallEvent]) -> tuple[Interaction, str | None, tuple[str, ...]]:
    """Folds the events into the state's interaction (created if new) with the classifier's own fold."""
    e = events[0]
    iid = interaction_id(e.source, e.call_id)
    ix = state.interactions.setdefault(iid, Interaction(iid, "call", e.source, e.call_id, e.direction, version=1))
    change = fold_call_into(ix, events)
    return change.interaction, change.prior_status, change.rang


def world_with_managers(*managers: tuple[str, str, bool]) -> BatchState:
    """(id, extension, on_duty) per manager."""
    state = BatchState()
    for manager_id, ext, on_duty in managers:
        state.managers[manager_id] = Manager(
            manager_id, manager_id.title(), f"{manager_id}@example.com", on_duty, True, (ext,)
        )
        state.extensions[ext] = manager_id
    return state


def email(
    message_id: str,
    *,
    direction: str = "inbound",
    counterpart: str = "jane@client.test",
    our: str = "ann@example.com",
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
    minutes: int = 0,
    **flags: Any,
) -> EmailEvent:
    sender, to = (counterpart, our) if direction == "inbound" else (our, counterpart)
    return EmailEvent(
        event_id=f"m-{message_id}-{uuid.uuid5(uuid.NAMESPACE_URL, message_id).hex[:6]}",
        source="smtp",
        message_id=f"<{message_id}>",
        in_reply_to=f"<{in_reply_to}>" if in_reply_to else None,
        references=tuple(f"<{r}>" for r in references),
        direction=direction,
        sender=EmailAddress(address=sender),
        to=(EmailAddress(address=to),),
        counterpart=counterpart,
        our_address=our,
        subject="Quote",
        sent_at=T0 + timedelta(minutes=minutes),
        received_at=T0 + timedelta(minutes=minutes, seconds=2),
        **flags,
    )
