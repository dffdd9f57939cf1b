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
    CloseDeal,
    CloseTask,
    EditContact,
    MarkNumber,
    MergeContacts,
    OpenDeal,
    ReassignContact,
    ReassignTask,
    RecordConsent,
    RecordMeeting,
    SetNumberList,
    SetOutcome,
    SetPlan,
    UpsertManager,
)
from services.classifier.apply_deals import close_deal, open_deal, opened_by_outcome
from services.classifier.batch_state import (
    Address,
    BatchState,
    Cause,
    Consent,
    Contact,
    Interaction,
    Manager,
    Mark,
    Meeting,
    Plan,
)
from services.classifier.classify import close, follow_up_call
from services.classifier.match_contacts import match_phone
from services.classifier.policy import Policy
from services.classifier.score_spam import NumberStats, Verdict, after_evidence, after_verdict, outcome_evidence
from services.classifier.suggest_outcome import refresh_suggestion

_GONE = Manager("", "", None, on_duty=False, active=False)


class Rejected(Exception):
    """The action refers to something that does not exist or may not be done; it is dead-lettered."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def apply_action(state: BatchState, action: Action, policy: Policy) -> None:
    """Raises Rejected before changing anything when the action cannot be applied. Every change made, including
    the tasks and leads it leads to, is audited as the action's."""
    outer = state.cause
    state.cause = Cause(action.event_id, action.kind, action.actor_id, action.occurred_at)
    try:
        if isinstance(action, OpenDeal | CloseDeal):
            _apply_deal(state, action)
        else:
            _apply(state, action, policy)
    finally:
        state.cause = outer


def _apply(state: BatchState, action: Action, policy: Policy) -> None:
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
        case EditContact():
            _edit_contact(state, action, policy)
        case MergeContacts():
            _merge_contacts(state, action)
        case RecordConsent():
            _record_consent(state, action)
        case ReassignTask():
            _reassign_task(state, action)


def _apply_deal(state: BatchState, action: OpenDeal | CloseDeal) -> None:
    reason = open_deal(state, action) if isinstance(action, OpenDeal) else close_deal(state, action)
    if reason is not None:
        raise Rejected(reason)


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
    # The suggestion the manager saw is the one the interaction's state implies now: the batch refreshes it only
    # at its end, so without this an outcome in the call's own batch would be judged against a stale one.
    refresh_suggestion(ix)
    before = ix.snapshot()
    previous = ix.outcome
    ix.outcome, ix.outcome_by, ix.outcome_at = action.outcome, action.actor_id, action.occurred_at
    if ix.phone is not None and not ix.internal:
        # The one-click confirmation of a flag is an outcome too: "wrong number" confirms it, anything else
        # clears it; either way the number's statistics learn the answer.
        if action.outcome == "wrong_number":
            _verdict(state, action, ix, "wrong", policy)
        elif ix.flag == "pending":
            _verdict(state, action, ix, "legit", policy)
        elif ix.flag != "confirmed" and (said := outcome_evidence(action.outcome, previous, ix.suggested_outcome)):
            # "Call back" or "fine" on a call nobody flagged is evidence of a real client too.
            state.numbers[ix.phone] = after_evidence(state.numbers.get(ix.phone, NumberStats()), said)
    if action.outcome == "taken_into_work":
        opened_by_outcome(state, action, ix)
    state.audit_change("interaction", ix.id, before, ix.snapshot())


def _mark_number(state: BatchState, action: MarkNumber, policy: Policy) -> None:
    if action.interaction_id is not None:
        ix = _interaction(state, action.interaction_id)
        if ix.phone is None or ix.internal:
            raise Rejected(f"interaction {ix.id} has no external phone number to mark")
        before = ix.snapshot()
        _verdict(state, action, ix, action.verdict, policy)
        if action.verdict != "legit" and ix.outcome is None:
            ix.outcome, ix.outcome_by, ix.outcome_at = "wrong_number", action.actor_id, action.occurred_at
        state.audit_change("interaction", ix.id, before, ix.snapshot())
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
                close(state, task, "cancelled", f"number marked {verdict}", action.occurred_at)


def _record_verdict(state: BatchState, action: Action, number: str, verdict: Verdict) -> None:
    stats = state.numbers.get(number, NumberStats())
    before = {"verdict": stats.marks.get(action.actor_id)}
    state.numbers[number] = after_verdict(stats, action.actor_id, verdict)
    state.marks[(number, action.actor_id)] = Mark(number, action.actor_id, verdict, action.occurred_at)
    # The audit table is on the operators' side (PostgreSQL, like contacts), so it may name the number.
    state.audit_change("number", number, before, {"verdict": verdict})


def _set_list(state: BatchState, action: SetNumberList) -> None:
    stats = state.numbers.get(action.number, NumberStats())
    new = None if action.list == "none" else action.list
    state.numbers[action.number] = replace(stats, list=new)
    state.audit_change("number", action.number, {"list": stats.list}, {"list": new})


def _contact(state: BatchState, cid: uuid.UUID) -> Contact:
    contact = state.contacts.get(cid)
    if contact is None:
        raise Rejected(f"unknown contact {cid}")
    if contact.merged_into is not None:
        raise Rejected(f"contact {cid} was merged into {contact.merged_into}")
    return contact


def _reassign(state: BatchState, action: ReassignContact) -> None:
    contact = _contact(state, action.contact_id)
    _active_manager(state, action.manager_id)
    before = contact.snapshot()
    previous_owner = contact.owner_id
    contact.owner_id = action.manager_id
    state.audit_change("contact", contact.id, before, contact.snapshot())
    for task in list(state.tasks.values()):
        if task.status == "open" and task.contact_id == contact.id and task.assignee_id in (previous_owner, None):
            state.put_task(replace(task, assignee_id=action.manager_id))


def _record_meeting(state: BatchState, action: RecordMeeting) -> None:
    contact = _contact(state, action.contact_id)
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
    state.audit_change("meeting", meeting.id, _meeting_snapshot(previous), _meeting_snapshot(meeting))
    before = contact.snapshot()
    if contact.first_name is None and contact.last_name is None:
        contact.first_name, contact.last_name = meeting.first_name, meeting.last_name
    state.audit_change("contact", contact.id, before, contact.snapshot())
    for address, kind in ((meeting.phone, "phone"), (meeting.email, "email")):
        if address is not None and address not in state.addresses:
            state.addresses[address] = Address(address, contact.id, kind)  # type: ignore[arg-type] # literal pair
            state.audit_change("contact_address", contact.id, None, {"kind": kind})
    task = state.open_task("fill_contact_data", f"contact:{contact.id}")
    if task is not None:
        close(state, task, "done", "meeting data recorded", action.occurred_at, by_manager=action.actor_id)


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
    state.audit_change(
        "plan", "|".join(key), {"target": previous.target} if previous else None, {"target": action.target}
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
        # An upsert that does not name a team (older producers, a deactivation) keeps the manager's team.
        action.team if action.team is not None else previous.team if previous else None,
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
            state.audit_change("manager", loser.id, before, loser.snapshot())
        state.extensions[ext] = manager.id
    state.managers[manager.id] = manager
    state.audit_change("manager", manager.id, previous.snapshot() if previous else None, manager.snapshot())
    if not manager.active:
        # A deactivated manager holds no work: their open tasks wait unassigned for the hand-over (reassign_contact
        # moves a contact's unassigned tasks with it, reassign_task the others), whichever is applied first.
        for task in list(state.tasks.values()):
            if task.status == "open" and task.assignee_id == manager.id:
                state.put_task(replace(task, assignee_id=None))


def _close_task(state: BatchState, action: CloseTask) -> None:
    task = state.tasks.get(action.task_id)
    if task is None:
        raise Rejected(f"unknown task {action.task_id}")
    if task.status != "open":
        return  # closing a closed task again is a no-op, not an error: two people clicked
    close(state, task, action.resolution, "closed by hand", action.occurred_at, by_manager=action.actor_id)


def _edit_contact(state: BatchState, action: EditContact, policy: Policy) -> None:
    contact = _contact(state, action.contact_id)
    adds = [(a, "phone") for a in action.add_phones] + [(a.lower(), "email") for a in action.add_emails]
    removes = [*action.remove_phones, *(a.lower() for a in action.remove_emails)]
    if clash := {a for a, _ in adds} & set(removes):
        raise Rejected(f"{len(clash)} address(es) both added and removed")
    for address, _ in adds:
        if address in policy.own_numbers or policy.is_own_mail(address):
            raise Rejected("an address to add is our own number or mail domain")
        owner = state.contact_of(address)
        if owner is not None and owner != contact.id:
            raise Rejected(f"an address to add belongs to contact {owner}: merge the contacts instead")
    for address in removes:
        if state.contact_of(address) != contact.id:
            raise Rejected(f"an address to remove is not contact {contact.id}'s")
    before = contact.snapshot()
    contact.first_name = action.first_name.strip() if action.first_name else contact.first_name
    contact.last_name = action.last_name.strip() if action.last_name else contact.last_name
    state.audit_change("contact", contact.id, before, contact.snapshot())
    for address, kind in adds:
        if address not in state.addresses:
            state.addresses[address] = Address(address, contact.id, kind)  # type: ignore[arg-type] # literal pair
            state.audit_change("contact_address", contact.id, None, {"address": address, "kind": kind})
    for address in removes:
        gone = state.addresses.pop(address)
        state.audit_change("contact_address", contact.id, {"address": address, "kind": gone.kind}, None)
    task = state.open_task("fill_contact_data", f"contact:{contact.id}")
    if task is not None and contact.first_name and contact.last_name:
        close(state, task, "done", "contact data filled in", action.occurred_at, by_manager=action.actor_id)


def _merge_contacts(state: BatchState, action: MergeContacts) -> None:
    """The duplicate's addresses, interactions, tasks, meetings and consents move to the kept contact; a task the
    kept contact already has open (one per kind and key) absorbs the duplicate's, which is closed."""
    kept, dup = _contact(state, action.contact_id), _contact(state, action.duplicate_id)
    before, dup_before = kept.snapshot(), dup.snapshot()
    kept.owner_id = kept.owner_id or dup.owner_id
    if kept.first_name is None and kept.last_name is None:
        kept.first_name, kept.last_name = dup.first_name, dup.last_name
    kept.is_lead = kept.is_lead and dup.is_lead
    dup.merged_into = kept.id
    state.audit_change("contact", kept.id, before, kept.snapshot())
    state.audit_change("contact", dup.id, dup_before, dup.snapshot())
    for address, row in sorted(state.addresses.items()):
        if row.contact_id == dup.id:
            state.addresses[address] = replace(row, contact_id=kept.id)
            moved = {"address": address, "kind": row.kind}
            state.audit_change("contact_address", kept.id, None, moved)
            state.audit_change("contact_address", dup.id, moved, None)
    for ix in sorted(state.interactions.values(), key=lambda i: i.id):
        if ix.contact_id == dup.id:
            ix_before = ix.snapshot()
            ix.contact_id = kept.id
            state.audit_change("interaction", ix.id, ix_before, ix.snapshot())
    _merge_tasks(state, action, kept, dup)
    for meeting in sorted((m for m in state.meetings.values() if m.contact_id == dup.id), key=lambda m: m.id):
        state.meetings[meeting.id] = replace(meeting, contact_id=kept.id)
        state.audit_change("meeting", meeting.id, {"contact_id": str(dup.id)}, {"contact_id": str(kept.id)})
    for (cid, channel), consent in sorted(state.consents.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        if cid != dup.id:
            continue
        current = state.consents.get((kept.id, channel))
        if current is None or current.recorded_at < consent.recorded_at:  # the latest word on a channel stands
            state.consents[(kept.id, channel)] = replace(consent, contact_id=kept.id)
            state.audit_change(
                "consent", f"{kept.id}|{channel}", current.snapshot() if current else None, consent.snapshot()
            )


def _merge_tasks(state: BatchState, action: MergeContacts, kept: Contact, dup: Contact) -> None:
    key, dup_key = f"contact:{kept.id}", f"contact:{dup.id}"
    for task in sorted((t for t in state.tasks.values() if t.contact_id == dup.id), key=lambda t: t.id):
        if task.status != "open":
            state.put_task(
                replace(task, contact_id=kept.id, dedupe_key=key if task.dedupe_key == dup_key else task.dedupe_key)
            )
            continue
        same = state.open_task(task.kind, key) if task.dedupe_key == dup_key else None
        if same is not None:
            state.put_task(replace(same, attempts=same.attempts + task.attempts))
            if task.interaction_id is not None:
                state.task_links.add((same.id, task.interaction_id))
            close(state, replace(task, contact_id=kept.id), "cancelled", f"merged into task {same.id}",
                  action.occurred_at, by_manager=action.actor_id)  # fmt: skip
            continue
        assignee = task.assignee_id
        if assignee in (dup.owner_id, None) and kept.owner_id and state.managers.get(kept.owner_id, _GONE).active:
            assignee = kept.owner_id  # open work follows the client to its owner, as when a contact is reassigned
        dedupe_key = key if task.dedupe_key == dup_key else task.dedupe_key
        state.put_task(replace(task, contact_id=kept.id, dedupe_key=dedupe_key, assignee_id=assignee))


def _record_consent(state: BatchState, action: RecordConsent) -> None:
    contact = _contact(state, action.contact_id)
    key = (contact.id, action.channel)
    previous = state.consents.get(key)
    consent = Consent(contact.id, action.channel, action.granted, action.source.strip(), action.actor_id,
                      action.occurred_at)  # fmt: skip
    state.consents[key] = consent
    state.audit_change("consent", f"{contact.id}|{action.channel}", previous.snapshot() if previous else None,
                       consent.snapshot())  # fmt: skip


def _reassign_task(state: BatchState, action: ReassignTask) -> None:
    task = state.tasks.get(action.task_id)
    if task is None:
        raise Rejected(f"unknown task {action.task_id}")
    if task.status != "open":
        raise Rejected(f"task {task.id} is {task.status}: only open work is reassigned")
    _active_manager(state, action.manager_id)
    state.put_task(replace(task, assignee_id=action.manager_id))
