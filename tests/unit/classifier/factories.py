"""Builders for classifier unit tests: call and email events, and a World with managers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.events import CallEvent, CallPhase, CallStatus, Direction, EmailAddress, EmailEvent, PhoneAddress
from services.classifier.correlate import fold_call, interaction_id
from services.classifier.policy import BusinessHours, Policy
from services.classifier.world import Interaction, Manager, World

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
) -> CallEvent:
    return CallEvent(
        event_id=f"{call_id}-{phase}-{seconds}-{leg}-{agent}",
        source="generic",
        call_id=call_id,
        leg_id=leg,
        phase=phase,
        status=status,
        direction=direction,
        counterpart=PhoneAddress(raw=counterpart, e164=counterpart if counterpart.startswith("+") else None)
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


def folded(world: World, events: list[CallEvent]) -> tuple[Interaction, str | None, tuple[str, ...]]:
    """Folds the events into the world's interaction (created if new), as store.py does."""
    e = events[0]
    iid = interaction_id(e.source, e.call_id)
    ix = world.interactions.get(iid)
    if ix is None:
        ix = Interaction(iid, "call", e.source, e.call_id, e.direction, version=1)
        ix.original = ix.values()
        world.interactions[iid] = ix
    prior = ix.auto_status if ix.phase == "ended" else None
    state = fold_call(events)
    for column in ("phase", "auto_status", "direction", "counterpart", "our_address", "agent", "started_at"):
        setattr(ix, column, getattr(state, column))
    for column in ("answered_at", "ended_at", "duration_s", "talk_s"):
        setattr(ix, column, getattr(state, column))
    return ix, prior, state.rang


def world_with_managers(*managers: tuple[str, str, bool]) -> World:
    """(id, extension, on_duty) per manager."""
    world = World()
    for manager_id, ext, on_duty in managers:
        world.managers[manager_id] = Manager(
            manager_id, manager_id.title(), f"{manager_id}@example.com", on_duty, True, (ext,)
        )
        world.extensions[ext] = manager_id
    return world


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
