"""People's actions applied to the in-memory `World` (pure), each change audited (who, when, before, after).

The model already checked what it can alone (schemas/actions.py). Here the references are checked against the
domain: an unknown interaction, contact, task or manager refuses the action with a `Rejected` reason, which
store.py records and dead-letters (through the outbox, in the same transaction). A refused action changes
nothing."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from schemas.actions import (
    Action,
    CloseTask,
    MarkNumber,
    ReassignContact,
    RecordMeeting,
    SetNumberList,
    SetOutcome,
    SetPlan,
    UpsertManager,
)
from services.classifier.classify import close, follow_up_call, is_e164
from services.classifier.match_contacts import match_phone
from services.classifier.policy import Policy
from services.classifier.score_spam import NumberStats, Verdict, after_verdict
from services.classifier.world import Address, AuditEntry, Interaction, Manager, Mark, Meeting, Plan, World


class Rejected(Exception):
    """The action refers to something that does not exist or may not be done; it is dead-lettered."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def apply_action(world: World, action: Action, policy: Policy) -> None:
    """Raises Rejected before changing anything when the action cannot be applied."""
    match action:
        case SetOutcome():
            _set_outcome(world, action, policy)
        case MarkNumber():
            _mark_number(world, action, policy)
        case SetNumberList():
            _set_list(world, action)
        case ReassignContact():
            _reassign(world, action)
        case RecordMeeting():
            _record_meeting(world, action)
        case SetPlan():
            _set_plan(world, action)
        case UpsertManager():
            _upsert_manager(world, action)
        case CloseTask():
            _close_task(world, action)


def _audit(
    world: World,
    action: Action,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    if before == after:
        return
    world.audit.append(
        AuditEntry(
            action.event_id, action.kind, action.actor_id, action.occurred_at, entity, str(entity_id), before, after
        )
    )


def _interaction(world: World, iid: uuid.UUID) -> Interaction:
    ix = world.interactions.get(iid)
    if ix is None or ix.phase is None:
        raise Rejected(f"unknown interaction {iid}")
    return ix


def _active_manager(world: World, manager_id: str) -> Manager:
    manager = world.managers.get(manager_id)
    if manager is None or not manager.active:
        raise Rejected(f"unknown or inactive manager {manager_id}")
    return manager


def _set_outcome(world: World, action: SetOutcome, policy: Policy) -> None:
    ix = _interaction(world, action.interaction_id)
    before = ix.snapshot()
    ix.outcome, ix.outcome_by, ix.outcome_at = action.outcome, action.actor_id, action.occurred_at
    if ix.kind == "call" and ix.counterpart and is_e164(ix.counterpart) and not ix.internal:
        # The one-click confirmation of a flag is an outcome too: "wrong number" confirms it, anything else
        # clears it; either way the number's statistics learn the answer.
        if action.outcome == "wrong_number":
            _verdict(world, action, ix, "wrong", policy)
        elif ix.flag == "pending":
            _verdict(world, action, ix, "legit", policy)
    _audit(world, action, "interaction", ix.id, before, ix.snapshot())


def _mark_number(world: World, action: MarkNumber, policy: Policy) -> None:
    if action.interaction_id is not None:
        ix = _interaction(world, action.interaction_id)
        if ix.kind != "call" or not is_e164(ix.counterpart) or ix.internal:
            raise Rejected(f"interaction {ix.id} has no external phone number to mark")
        before = ix.snapshot()
        _verdict(world, action, ix, action.verdict, policy)
        if action.verdict != "legit" and ix.outcome is None:
            ix.outcome, ix.outcome_by, ix.outcome_at = "wrong_number", action.actor_id, action.occurred_at
        _audit(world, action, "interaction", ix.id, before, ix.snapshot())
    else:
        assert action.number is not None, "the model requires one of interaction_id and number"
        _record_verdict(world, action, action.number, action.verdict)


def _verdict(world: World, action: Action, ix: Interaction, verdict: Verdict, policy: Policy) -> None:
    """A person's verdict on a flagged (or any) call: recorded for the number; the call's flag and follow-up
    work follow it. Clearing a pending flag creates what the flag held back (lead, callback)."""
    assert ix.counterpart is not None
    _record_verdict(world, action, ix.counterpart, verdict)
    if verdict == "legit":
        was_held = ix.flag in ("pending", "confirmed")
        ix.flag = "cleared"
        if was_held and ix.phase == "ended":
            match = match_phone(ix.direction, ix.counterpart, policy, world.contact_of)
            rang = [ix.manager_id] if ix.manager_id else []
            follow_up_call(world, ix, match, rang, None, policy)
    else:
        ix.flag = "confirmed"
        for task in list(world.tasks.values()):
            if task.status == "open" and task.interaction_id == ix.id:
                before = task.snapshot()
                closed = close(world, task, "cancelled", f"number marked {verdict}", action.occurred_at)
                _audit(world, action, "task", task.id, before, closed.snapshot())


def _record_verdict(world: World, action: Action, number: str, verdict: Verdict) -> None:
    stats = world.numbers.get(number, NumberStats())
    before = {"verdict": stats.marks.get(action.actor_id)}
    world.numbers[number] = after_verdict(stats, action.actor_id, verdict)
    world.numbers_dirty.add(number)
    world.marks.append(Mark(number, action.actor_id, verdict, action.occurred_at))
    # The audit table is on the operators' side (PostgreSQL, like contacts), so it may name the number.
    _audit(world, action, "number", number, before, {"verdict": verdict})


def _set_list(world: World, action: SetNumberList) -> None:
    stats = world.numbers.get(action.number, NumberStats())
    new = None if action.list == "none" else action.list
    world.numbers[action.number] = replace(stats, list=new)
    world.numbers_dirty.add(action.number)
    world.lists_dirty[action.number] = action.list
    _audit(world, action, "number", action.number, {"list": stats.list}, {"list": new})


def _reassign(world: World, action: ReassignContact) -> None:
    contact = world.contacts.get(action.contact_id)
    if contact is None:
        raise Rejected(f"unknown contact {action.contact_id}")
    _active_manager(world, action.manager_id)
    before = contact.snapshot()
    previous_owner = contact.owner_id
    contact.owner_id = action.manager_id
    world.contacts_dirty.add(contact.id)
    _audit(world, action, "contact", contact.id, before, contact.snapshot())
    for task in list(world.tasks.values()):
        if task.status == "open" and task.contact_id == contact.id and task.assignee_id in (previous_owner, None):
            moved = replace(task, assignee_id=action.manager_id)
            world.put_task(moved)
            _audit(world, action, "task", task.id, task.snapshot(), moved.snapshot())


def _record_meeting(world: World, action: RecordMeeting) -> None:
    contact = world.contacts.get(action.contact_id)
    if contact is None:
        raise Rejected(f"unknown contact {action.contact_id}")
    if action.interaction_id is not None:
        _interaction(world, action.interaction_id)
    data = action.meeting
    meeting = Meeting(
        action.meeting_id,
        contact.id,
        action.interaction_id,
        action.actor_id,
        data.date,
        data.last_name.strip(),
        data.first_name.strip(),
        data.phone,
        data.email.lower() if data.email else None,
        data.topic.strip(),
        data.result.strip(),
    )
    previous = world.meetings.get(meeting.id)
    world.meetings[meeting.id] = meeting
    _audit(world, action, "meeting", meeting.id, _meeting_snapshot(previous), _meeting_snapshot(meeting))
    before = contact.snapshot()
    if contact.first_name is None and contact.last_name is None:
        contact.first_name, contact.last_name = meeting.first_name, meeting.last_name
        world.contacts_dirty.add(contact.id)
    _audit(world, action, "contact", contact.id, before, contact.snapshot())
    for address, kind in ((meeting.phone, "phone"), (meeting.email, "email")):
        if address is not None and address not in world.addresses:
            world.addresses[address] = Address(address, contact.id, kind)  # type: ignore[arg-type] # literal pair
            world.addresses_dirty.add(address)
            _audit(world, action, "contact_address", contact.id, None, {"kind": kind})
    task = world.open_task("fill_contact_data", f"contact:{contact.id}")
    if task is not None:
        closed = close(world, task, "done", "meeting data recorded", action.occurred_at, by_manager=action.actor_id)
        _audit(world, action, "task", task.id, task.snapshot(), closed.snapshot())


def _meeting_snapshot(meeting: Meeting | None) -> dict[str, Any] | None:
    if meeting is None:
        return None
    return {
        "contact_id": str(meeting.contact_id),
        "date": meeting.meeting_date.isoformat(),
        "last_name": meeting.last_name,
        "first_name": meeting.first_name,
        "topic": meeting.topic,
        "result": meeting.result,
    }


def _set_plan(world: World, action: SetPlan) -> None:
    _active_manager(world, action.manager_id)
    key = (action.manager_id, action.metric, action.period)
    previous = world.plans.get(key)
    world.plans[key] = Plan(action.manager_id, action.metric, action.period, action.target)
    world.plans_dirty.add(key)
    _audit(
        world,
        action,
        "plan",
        "|".join(key),
        {"target": previous.target} if previous else None,
        {"target": action.target},
    )


def _upsert_manager(world: World, action: UpsertManager) -> None:
    previous = world.managers.get(action.manager_id)
    manager = Manager(
        action.manager_id,
        action.name.strip(),
        action.email.lower() if action.email else None,
        action.on_duty,
        action.active,
        tuple(sorted(set(action.extensions))),
    )
    for ext in previous.extensions if previous else ():
        if world.extensions.get(ext) == manager.id:
            del world.extensions[ext]
    for ext in manager.extensions:
        other = world.extensions.get(ext)
        if other is not None and other != manager.id:
            # An extension rings one manager: the newest assignment wins and the other manager loses it.
            loser = world.managers[other]
            before = loser.snapshot()
            loser.extensions = tuple(e for e in loser.extensions if e != ext)
            world.managers_dirty.add(loser.id)
            _audit(world, action, "manager", loser.id, before, loser.snapshot())
        world.extensions[ext] = manager.id
    world.managers[manager.id] = manager
    world.managers_dirty.add(manager.id)
    _audit(world, action, "manager", manager.id, previous.snapshot() if previous else None, manager.snapshot())


def _close_task(world: World, action: CloseTask) -> None:
    task = world.tasks.get(action.task_id)
    if task is None:
        raise Rejected(f"unknown task {action.task_id}")
    if task.status != "open":
        return  # closing a closed task again is a no-op, not an error: two people clicked
    closed = close(world, task, action.resolution, "closed by hand", action.occurred_at, by_manager=action.actor_id)
    _audit(world, action, "task", task.id, task.snapshot(), closed.snapshot())
