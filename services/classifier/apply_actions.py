"""People's actions applied to the in-memory `BatchState` (pure), each change audited (who, when, before, after).

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
from services.classifier.batch_state import Address, AuditEntry, BatchState, Interaction, Manager, Mark, Meeting, Plan
from services.classifier.classify import close, follow_up_call
from services.classifier.match_contacts import match_phone
from services.classifier.policy import Policy
from services.classifier.score_spam import NumberStats, Verdict, after_verdict


class Rejected(Exception):
    """The action refers to something that does not exist or may not be done; it is dead-lettered."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def apply_action(state: BatchState, action: Action, policy: Policy) -> None:
    """Raises Rejected before changing anything when the action cannot be applied."""
    match action:
        case SetOutcome():
            _set_outcome(state, action, policy)
        case MarkNumber():
            _mark_number(state, action, policy)
        case SetNumberList():
            _set_list(state, action)
        case ReassignContact():
            _reassign(state, action)
        case RecordMeeting():
            _record_meeting(state, action)
        case SetPlan():
            _set_plan(state, action)
        case UpsertManager():
            _upsert_manager(state, action)
        case CloseTask():
            _close_task(state, action)


def _audit(
    state: BatchState,
    action: Action,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    if before == after:
        return
    state.audit.append(
        AuditEntry(
            action.event_id, action.kind, action.actor_id, action.occurred_at, entity, str(entity_id), before, after
        )
    )


def _interaction(state: BatchState, iid: uuid.UUID) -> Interaction:
    ix = state.interactions.get(iid)
    if ix is None or ix.phase is None:
        raise Rejected(f"unknown interaction {iid}")
    return ix


def _active_manager(state: BatchState, manager_id: str) -> Manager:
    manager = state.managers.get(manager_id)
    if manager is None or not manager.active:
        raise Rejected(f"unknown or inactive manager {manager_id}")
    return manager


def _set_outcome(state: BatchState, action: SetOutcome, policy: Policy) -> None:
    ix = _interaction(state, action.interaction_id)
    before = ix.snapshot()
    ix.outcome, ix.outcome_by, ix.outcome_at = action.outcome, action.actor_id, action.occurred_at
    if ix.phone is not None and not ix.internal:
        # The one-click confirmation of a flag is an outcome too: "wrong number" confirms it, anything else
        # clears it; either way the number's statistics learn the answer.
        if action.outcome == "wrong_number":
            _verdict(state, action, ix, "wrong", policy)
        elif ix.flag == "pending":
            _verdict(state, action, ix, "legit", policy)
    _audit(state, action, "interaction", ix.id, before, ix.snapshot())


def _mark_number(state: BatchState, action: MarkNumber, policy: Policy) -> None:
    if action.interaction_id is not None:
        ix = _interaction(state, action.interaction_id)
        if ix.phone is None or ix.internal:
            raise Rejected(f"interaction {ix.id} has no external phone number to mark")
        before = ix.snapshot()
        _verdict(state, action, ix, action.verdict, policy)
        if action.verdict != "legit" and ix.outcome is None:
            ix.outcome, ix.outcome_by, ix.outcome_at = "wrong_number", action.actor_id, action.occurred_at
        _audit(state, action, "interaction", ix.id, before, ix.snapshot())
    else:
        assert action.number is not None, "the model requires one of interaction_id and number"
        _record_verdict(state, action, action.number, action.verdict)


def _verdict(state: BatchState, action: Action, ix: Interaction, verdict: Verdict, policy: Policy) -> None:
    """A person's verdict on a flagged (or any) call: recorded for the number; the call's flag and follow-up
    work follow it. Clearing a pending flag creates what the flag held back (lead, callback)."""
    assert ix.phone is not None
    _record_verdict(state, action, ix.phone, verdict)
    if verdict == "legit":
        was_held = ix.flag in ("pending", "confirmed")
        ix.flag = "cleared"
        if was_held and ix.phase == "ended":
            match = match_phone(ix.direction, ix.phone, policy, state.contact_of)
            rang = [ix.manager_id] if ix.manager_id else []
            follow_up_call(state, ix, match, rang, None, policy)
    else:
        ix.flag, ix.flag_kind = "confirmed", "spam" if verdict == "spam" else "wrong_number"
        for task in list(state.tasks.values()):
            if task.status == "open" and task.interaction_id == ix.id:
                before = task.snapshot()
                closed = close(state, task, "cancelled", f"number marked {verdict}", action.occurred_at)
                _audit(state, action, "task", task.id, before, closed.snapshot())


def _record_verdict(state: BatchState, action: Action, number: str, verdict: Verdict) -> None:
    stats = state.numbers.get(number, NumberStats())
    before = {"verdict": stats.marks.get(action.actor_id)}
    state.numbers[number] = after_verdict(stats, action.actor_id, verdict)
    state.marks[(number, action.actor_id)] = Mark(number, action.actor_id, verdict, action.occurred_at)
    # The audit table is on the operators' side (PostgreSQL, like contacts), so it may name the number.
    _audit(state, action, "number", number, before, {"verdict": verdict})


def _set_list(state: BatchState, action: SetNumberList) -> None:
    stats = state.numbers.get(action.number, NumberStats())
    new = None if action.list == "none" else action.list
    state.numbers[action.number] = replace(stats, list=new)
    _audit(state, action, "number", action.number, {"list": stats.list}, {"list": new})


def _reassign(state: BatchState, action: ReassignContact) -> None:
    contact = state.contacts.get(action.contact_id)
    if contact is None:
        raise Rejected(f"unknown contact {action.contact_id}")
    _active_manager(state, action.manager_id)
    before = contact.snapshot()
    previous_owner = contact.owner_id
    contact.owner_id = action.manager_id
    _audit(state, action, "contact", contact.id, before, contact.snapshot())
    for task in list(state.tasks.values()):
        if task.status == "open" and task.contact_id == contact.id and task.assignee_id in (previous_owner, None):
            moved = replace(task, assignee_id=action.manager_id)
            state.put_task(moved)
            _audit(state, action, "task", task.id, task.snapshot(), moved.snapshot())


def _record_meeting(state: BatchState, action: RecordMeeting) -> None:
    contact = state.contacts.get(action.contact_id)
    if contact is None:
        raise Rejected(f"unknown contact {action.contact_id}")
    if action.interaction_id is not None:
        _interaction(state, action.interaction_id)
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
    previous = state.meetings.get(meeting.id)
    state.meetings[meeting.id] = meeting
    _audit(state, action, "meeting", meeting.id, _meeting_snapshot(previous), _meeting_snapshot(meeting))
    before = contact.snapshot()
    if contact.first_name is None and contact.last_name is None:
        contact.first_name, contact.last_name = meeting.first_name, meeting.last_name
    _audit(state, action, "contact", contact.id, before, contact.snapshot())
    for address, kind in ((meeting.phone, "phone"), (meeting.email, "email")):
        if address is not None and address not in state.addresses:
            state.addresses[address] = Address(address, contact.id, kind)  # type: ignore[arg-type] # literal pair
            _audit(state, action, "contact_address", contact.id, None, {"kind": kind})
    task = state.open_task("fill_contact_data", f"contact:{contact.id}")
    if task is not None:
        closed = close(state, task, "done", "meeting data recorded", action.occurred_at, by_manager=action.actor_id)
        _audit(state, action, "task", task.id, task.snapshot(), closed.snapshot())


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


def _set_plan(state: BatchState, action: SetPlan) -> None:
    _active_manager(state, action.manager_id)
    key = (action.manager_id, action.metric, action.period)
    previous = state.plans.get(key)
    state.plans[key] = Plan(action.manager_id, action.metric, action.period, action.target)
    _audit(
        state,
        action,
        "plan",
        "|".join(key),
        {"target": previous.target} if previous else None,
        {"target": action.target},
    )


def _upsert_manager(state: BatchState, action: UpsertManager) -> None:
    previous = state.managers.get(action.manager_id)
    manager = Manager(
        action.manager_id,
        action.name.strip(),
        action.email.lower() if action.email else None,
        action.on_duty,
        action.active,
        tuple(sorted(set(action.extensions))),
    )
    for ext in previous.extensions if previous else ():
        if state.extensions.get(ext) == manager.id:
            del state.extensions[ext]
    for ext in manager.extensions:
        other = state.extensions.get(ext)
        if other is not None and other != manager.id:
            # An extension rings one manager: the newest assignment wins and the other manager loses it.
            loser = state.managers[other]
            before = loser.snapshot()
            loser.extensions = tuple(e for e in loser.extensions if e != ext)
            _audit(state, action, "manager", loser.id, before, loser.snapshot())
        state.extensions[ext] = manager.id
    state.managers[manager.id] = manager
    _audit(state, action, "manager", manager.id, previous.snapshot() if previous else None, manager.snapshot())


def _close_task(state: BatchState, action: CloseTask) -> None:
    task = state.tasks.get(action.task_id)
    if task is None:
        raise Rejected(f"unknown task {action.task_id}")
    if task.status != "open":
        return  # closing a closed task again is a no-op, not an error: two people clicked
    closed = close(state, task, action.resolution, "closed by hand", action.occurred_at, by_manager=action.actor_id)
    _audit(state, action, "task", task.id, task.snapshot(), closed.snapshot())
