"""What a call or an email means for the client base (pure: it changes the in-memory `BatchState`, nothing else).

For a call that reached its final status: match the counterpart, score it for wrong number/spam, and unless it
is flagged, create the lead and the follow-up work it implies (or close the work it completes). For an email:
match, thread, and create or close reply tasks; bounces mark the address undeliverable. Internal calls and
mail (extension to extension, our own numbers and domains) are recorded apart: no contact, no score, no task.

Every time is the event's own time (when the call ended, when the mail was sent), never the wall clock, so a
replay after a crash makes exactly the same decisions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from schemas.events import CallStatus, EmailEvent
from schemas.records import TaskKind
from services.classifier.assign_tasks import choose_assignee, due_by
from services.classifier.batch_state import Address, BatchState, Contact, Interaction, Task
from services.classifier.key_ids import Ids
from services.classifier.match_contacts import Match, call_makes_lead, match_email, match_phone
from services.classifier.policy import Policy
from services.classifier.score_spam import (
    EMAIL_FROM_CLIENT,
    REPLY_TO_CLIENT,
    CallFacts,
    NumberStats,
    after_call,
    after_evidence,
    after_range_call,
    close_callers,
    range_of,
    score_call,
)
from services.classifier.thread_emails import interaction_id_for_key, referenced

NEEDS_CALLBACK: frozenset[str] = frozenset({"missed", "abandoned"})


@dataclass(frozen=True, slots=True)
class CallChange:
    """A call whose folded state changed in this batch. `prior_status`: its final status before (None if it had
    none); `rang`: the agents whose phones rang, oldest first."""

    interaction: Interaction
    prior_status: str | None
    rang: tuple[str, ...]


def on_call(state: BatchState, change: CallChange, policy: Policy) -> None:
    ix = change.interaction
    if ix.phase != "ended" or ix.auto_status is None or ix.auto_status == change.prior_status:
        return
    status: CallStatus = ix.auto_status  # type: ignore[assignment] # calls only ever carry call statuses
    match = match_phone(ix.direction, ix.phone, policy, state.contact_of)
    rang_managers = [m for m in (state.manager_for_agent(a) for a in change.rang) if m is not None]
    if match.kind in ("internal", "own"):
        ix.internal = True
        ix.manager_id = state.manager_for_agent(ix.agent) or (rang_managers[-1] if rang_managers else None)
        return
    ix.manager_id = (state.manager_for_agent(ix.agent) if status == "answered" else None) or (
        rang_managers[-1] if rang_managers else state.manager_for_agent(ix.agent)
    )
    ix.contact_id = match.contact_id
    contact = state.contacts.get(match.contact_id) if match.contact_id else None
    at = ix.ended_at or ix.started_at
    window = state.ranges.get(prefix, ()) if (prefix := range_of(match.address or "")) else ()
    answered_by = state.manager_for_agent(ix.agent) if status == "answered" else None
    facts = CallFacts(
        direction=ix.direction,  # type: ignore[arg-type] # a folded call keeps the event's literal
        status=status,
        talk_s=ix.talk_s if ix.talk_s is not None else _seconds(ix.answered_at, ix.ended_at),
        ring_s=ix.ring_s,
        known_contact=contact is not None and not _placeholder(contact),
        parseable=match.kind != "none",
        answered_by_manager=status != "answered" or answered_by is not None,
        manager_id=answered_by,
        close_numbers=close_callers(window, match.address, at) if match.address and at else 0,
    )
    stats = state.numbers.get(match.address, NumberStats()) if match.address else NumberStats()
    score = score_call(facts, stats, policy.spam_threshold, policy.short_call_s)
    ix.spam_score, ix.spam_reasons = score.value, score.reasons
    if ix.flag not in ("confirmed", "cleared"):  # a person's decision on this call stands
        ix.flag, ix.flag_kind = score.flag, score.kind
    if match.address and change.prior_status is None:  # count each call once, when it first ends
        state.numbers[match.address] = after_call(stats, facts, policy.short_call_s)
        if prefix and at and ix.direction == "inbound" and not score.client:
            state.ranges[prefix] = after_range_call(window, match.address, at)
    # Hiding a real client's missed call costs more than a wasted callback: only a strong flag holds it back.
    keeps_callback = status in NEEDS_CALLBACK and ix.flag == "pending" and not score.strong
    if ix.flag in ("pending", "confirmed") and not keeps_callback:
        return  # no lead, no callback: it waits for a person (pending) or is known to be wrong/spam
    follow_up_call(state, ix, match, rang_managers, change.prior_status, policy)


def follow_up_call(
    state: BatchState, ix: Interaction, match: Match, rang: list[str], prior_status: str | None, policy: Policy
) -> None:
    """The lead and the tasks a final, unflagged call implies. Also run when a person clears a flag."""
    at = ix.ended_at or ix.started_at
    assert at is not None, "a folded call has a start time"
    if ix.auto_status == "answered":
        if call_makes_lead(match, "answered", flagged=False) and match.address is not None:
            ix.contact_id = create_lead(state, match.address, "phone", ix.manager_id, rang, at, ix.id, policy, "a call")
        close_callbacks(state, ix, match.address)
    elif (
        ix.auto_status in NEEDS_CALLBACK
        and prior_status not in NEEDS_CALLBACK
        and ix.direction == "inbound"
        and match.address is not None
    ):
        contact = state.contacts.get(ix.contact_id) if ix.contact_id else None
        key = f"contact:{contact.id}" if contact else f"address:{match.address}"
        reason = (
            "caller hung up before any agent's phone rang" if ix.auto_status == "abandoned" else "missed inbound call"
        )
        if ix.flag == "pending":
            kind = "spam" if ix.flag_kind == "spam" else "a wrong number"
            reason += f" (possibly {kind}: {'; '.join(ix.spam_reasons)})"
        open_or_attempt(
            state,
            "callback",
            key,
            ids=policy.ids,
            origin=ix,
            reason=reason,
            at=at,
            assignee=choose_assignee(
                contact.owner_id if contact else None,
                rang,
                {m.id: m.view() for m in state.managers.values()},
                state.open_task_counts,
            ),
            due_at=due_by(at, policy.callback_sla_minutes, policy.hours),
            contact_id=contact.id if contact else None,
            address=None if contact else match.address,
        )


def create_lead(
    state: BatchState,
    address: str,
    kind: str,
    owner_id: str | None,
    rang: list[str],
    at: datetime,
    origin: uuid.UUID,
    policy: Policy,
    via: str,
) -> uuid.UUID:
    """A contact "created automatically" for an unknown counterpart, and a task to fill in its data."""
    cid = policy.ids.contact(address)
    contact = state.contacts.get(cid)
    if contact is None:
        contact = Contact(
            cid, owner_id, None, None, created_automatically=True, is_lead=True, version=0, occurred_at=at
        )
        state.add_contact(contact)
    state.addresses[address] = Address(address, cid, "phone" if kind == "phone" else "email")
    open_or_attempt(
        state,
        "fill_contact_data",
        f"contact:{cid}",
        ids=policy.ids,
        origin=state.interactions[origin],
        reason=f"new lead from {via}: fill in the minimum data set",
        at=at,
        assignee=choose_assignee(
            contact.owner_id, rang, {m.id: m.view() for m in state.managers.values()}, state.open_task_counts
        ),
        due_at=due_by(at, policy.fill_data_sla_minutes, policy.hours),
        contact_id=cid,
        count_attempt=False,
    )
    return cid


def close_callbacks(state: BatchState, ix: Interaction, address: str | None) -> None:
    """A connected call with the client, either direction, closes their open callback task."""
    keys = []
    if ix.contact_id is not None:
        keys.append(f"contact:{ix.contact_id}")
    if address is not None:
        keys.append(f"address:{address}")
    when = ix.answered_at or ix.started_at
    for key in keys:
        task = state.open_task("callback", key)
        if task is None or when is None or (ix.ended_at or when) < task.created_at:
            continue  # a conversation that ended before the miss does not answer it
        close(state, task, "done", "connected call", when, by_interaction=ix.id, by_manager=ix.manager_id)


def open_or_attempt(
    state: BatchState,
    kind: TaskKind,
    key: str,
    *,
    ids: Ids,
    origin: Interaction,
    reason: str,
    at: datetime,
    assignee: str | None,
    due_at: datetime,
    contact_id: uuid.UUID | None = None,
    address: str | None = None,
    thread_id: uuid.UUID | None = None,
    count_attempt: bool = True,
) -> Task:
    """One open task per (kind, key): a repeat adds an attempt to it instead of a second task."""
    existing = state.open_task(kind, key)
    if existing is not None:
        if (existing.id, origin.id) not in state.task_links and count_attempt:
            existing = replace(existing, attempts=existing.attempts + 1)
            state.put_task(existing)
        state.task_links.add((existing.id, origin.id))
        return existing
    task = Task(
        id=ids.task(kind, origin.id, key),
        kind=kind,
        status="open",
        dedupe_key=key,
        reason=reason,
        created_at=at,
        contact_id=contact_id,
        address=address,
        interaction_id=origin.id,
        thread_id=thread_id,
        assignee_id=assignee,
        due_at=due_at,
    )
    state.put_task(task)
    state.task_links.add((task.id, origin.id))
    return task


def close(
    state: BatchState,
    task: Task,
    status: str,
    reason: str,
    when: datetime,
    *,
    by_interaction: uuid.UUID | None = None,
    by_manager: str | None = None,
) -> Task:
    closed = replace(
        task,
        status=status,  # type: ignore[arg-type] # callers pass "done" or "cancelled"
        closed_at=when,
        close_reason=reason,
        closed_by_interaction_id=by_interaction,
        closed_by_manager_id=by_manager,
        response_s=max(0, int((when - task.created_at).total_seconds())),
    )
    state.put_task(closed)
    return closed


@dataclass(frozen=True, slots=True)
class EmailChange:
    """A message seen for the first time in this batch, with its canonical event and status."""

    interaction: Interaction
    event: EmailEvent


def on_email(state: BatchState, change: EmailChange, policy: Policy) -> None:
    ix, event = change.interaction, change.event
    status = ix.auto_status
    match = match_email(ix.direction, ix.counterpart, policy, state.contact_of)
    mailbox_manager = state.manager_for_mailbox(ix.our_address)
    if match.kind in ("internal", "own"):
        ix.internal = True
        ix.manager_id = mailbox_manager
        return
    at = event.sent_at or event.received_at
    if status == "bounce":
        mark_undeliverable(state, event, match)
        return
    ix.contact_id = match.contact_id
    contact = state.contacts.get(match.contact_id) if match.contact_id else None
    ix.manager_id = mailbox_manager or (contact.owner_id if contact else None)
    if status in ("auto_reply", "bulk") or match.address is None:
        return
    if status == "received":
        if match.contact_id is not None:
            vouch_for_phones(state, match.contact_id, EMAIL_FROM_CLIENT)
        if match.kind == "unknown":
            ix.contact_id = create_lead(
                state, match.address, "email", mailbox_manager, [], at, ix.id, policy, "an email"
            )
            contact = state.contacts[ix.contact_id]
        assert ix.thread_id is not None, "an email interaction always has a thread"
        open_or_attempt(
            state,
            "reply",
            f"thread:{ix.thread_id}",
            ids=policy.ids,
            origin=ix,
            reason="inbound email awaiting a reply",
            at=at,
            assignee=choose_assignee(
                contact.owner_id if contact else None,
                [mailbox_manager] if mailbox_manager else [],
                {m.id: m.view() for m in state.managers.values()},
                state.open_task_counts,
            ),
            due_at=due_by(at, policy.reply_sla_minutes, policy.hours),
            contact_id=ix.contact_id,
            thread_id=ix.thread_id,
        )
    elif status == "sent" and ix.thread_id is not None:
        task = state.open_task("reply", f"thread:{ix.thread_id}")
        if task is not None and at >= task.created_at:
            close(state, task, "done", "reply sent", at, by_interaction=ix.id, by_manager=mailbox_manager)
            if match.contact_id is not None:
                vouch_for_phones(state, match.contact_id, REPLY_TO_CLIENT)


def vouch_for_phones(state: BatchState, contact_id: uuid.UUID, said: str) -> None:
    """An email exchange with a contact is evidence of a real client for each of the contact's phone numbers (the
    ones load_state loaded with the mail's contact), so a later short call from one of them is not flagged."""
    for row in state.addresses.values():
        if row.contact_id == contact_id and row.kind == "phone":
            state.numbers[row.address] = after_evidence(state.numbers.get(row.address, NumberStats()), said)


def mark_undeliverable(state: BatchState, bounce: EmailEvent, match: Match) -> None:
    """The bounced address is the recipient of the message the bounce refers to; failing that, the bounce's
    counterpart, unless that is just the mailer daemon."""
    targets: list[str] = []
    for ref in referenced(bounce):
        original = state.interactions.get(interaction_id_for_key(ref))
        if original is not None and original.counterpart:
            targets.append(original.counterpart)
    if not targets and match.address and match.address.split("@", 1)[0] not in ("mailer-daemon", "postmaster"):
        targets.append(match.address)
    for address in targets:
        row = state.addresses.get(address)
        if row is not None and not row.undeliverable:
            state.addresses[address] = replace(row, undeliverable=True)
            state.audit_change(
                "contact_address",
                row.contact_id,
                {"address": address, "undeliverable": False},
                {"address": address, "undeliverable": True},
            )


def _placeholder(contact: Contact) -> bool:
    """A lead nobody has filled in yet says little about whether the number is legitimate."""
    return contact.created_automatically and contact.first_name is None and contact.last_name is None


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, int((end - start).total_seconds()))
