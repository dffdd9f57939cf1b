"""The operators' and admins' actions on an in-memory BatchState (edit, merge, consent, task reassignment, a
manager's team and deactivation), the suggestion kept current, and the classifier's own changes audited."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from schemas.actions import (
    EditContact,
    MarkNumber,
    MeetingData,
    MergeContacts,
    ReassignContact,
    ReassignTask,
    RecordConsent,
    RecordMeeting,
    SetOutcome,
    UpsertManager,
)
from services.classifier.apply_actions import Rejected, apply_action
from services.classifier.apply_events import Step, apply_events
from services.classifier.batch_state import CLASSIFIER, BatchState, Interaction, Meeting
from services.classifier.correlate import interaction_id
from services.classifier.decode import ConsumedRecord
from services.classifier.key_ids import UNKEYED_FOR_TESTS as IDS
from services.classifier.suggest_outcome import refresh_suggestion
from tests.unit.classifier.factories import CLIENT, OWN, POLICY, T0, answered, missed
from tests.unit.classifier.test_classify import apply_call, known_client, office, open_tasks

WHEN = T0 + timedelta(hours=1)
OTHER = "+14155550188"


def base(**kw: Any) -> dict[str, Any]:
    return {"event_id": f"a-{uuid.uuid4()}", "actor_id": "otto", "occurred_at": WHEN, **kw}


def refused(world: BatchState, action: Any, reason: str) -> None:
    """The action is refused with `reason` and changes nothing, not even the audit trail."""
    before = repr(world)
    with pytest.raises(Rejected, match=reason):
        apply_action(world, action, POLICY)
    assert repr(world) == before


def test_an_edit_renames_adds_and_removes_addresses_and_audits_each_change() -> None:
    world = office()
    cid = known_client(world, owner="ann")
    apply_action(
        world,
        EditContact(**base(contact_id=cid, first_name="Janet", add_phones=(OTHER,), add_emails=("Janet@Client.test",))),
        POLICY,
    )
    apply_action(world, EditContact(**base(contact_id=cid, remove_phones=(CLIENT,))), POLICY)
    contact = world.contacts[cid]
    assert (contact.first_name, contact.last_name, contact.owner_id) == ("Janet", "Doe", "ann")
    assert {a: r.contact_id for a, r in world.addresses.items()} == {OTHER: cid, "janet@client.test": cid}
    assert [(e.action_kind, e.actor_id, e.entity, e.before, e.after) for e in world.audit] == [
        ("edit_contact", "otto", "contact", contact_snapshot("Jane"), contact_snapshot("Janet")),
        ("edit_contact", "otto", "contact_address", None, {"address": OTHER, "kind": "phone"}),
        ("edit_contact", "otto", "contact_address", None, {"address": "janet@client.test", "kind": "email"}),
        ("edit_contact", "otto", "contact_address", {"address": CLIENT, "kind": "phone"}, None),
    ]


def blank_interaction(iid: uuid.UUID, call_id: str) -> Interaction:
    """A call's row as record_events inserts it, before its first state."""
    return Interaction(iid, "call", "generic", call_id, "inbound", version=1)


def contact_snapshot(first_name: str) -> dict[str, Any]:
    return {"owner_id": "ann", "first_name": first_name, "last_name": "Doe", "is_lead": False}


def test_an_edit_that_cannot_be_applied_is_refused_whole() -> None:
    world = office()
    cid = known_client(world, owner="ann")
    other = known_client(world, owner="bob", address=OTHER)
    refused(
        world, EditContact(**base(contact_id=cid, first_name="X", add_phones=(OTHER,))), f"belongs to contact {other}"
    )
    refused(world, EditContact(**base(contact_id=cid, remove_phones=(OTHER,))), "not contact")
    refused(world, EditContact(**base(contact_id=cid, add_phones=(OWN,))), "our own number")
    refused(world, EditContact(**base(contact_id=uuid.uuid4(), first_name="X")), "unknown contact")
    refused(
        world, EditContact(**base(contact_id=cid, add_emails=("a@b.test",), remove_emails=("A@b.test",))), "both added"
    )


def test_naming_a_lead_closes_its_fill_in_task() -> None:
    world = office()
    apply_call(world, answered("c1", talk=200))
    lead = IDS.contact(CLIENT)
    [fill] = open_tasks(world, "fill_contact_data")
    apply_action(world, EditContact(**base(contact_id=lead, first_name="Jane")), POLICY)
    assert world.tasks[fill.id].status == "open", "half the name is not the data set"
    apply_action(world, EditContact(**base(contact_id=lead, last_name="Doe")), POLICY)
    assert (world.tasks[fill.id].status, world.tasks[fill.id].closed_by_manager_id) == ("done", "otto")


def test_merging_moves_everything_of_the_duplicate_and_keeps_one_open_task_per_key() -> None:
    world = office()
    kept = known_client(world, owner="ann")
    dup = known_client(world, owner="bob", address=OTHER)
    world.contacts[dup].first_name = None
    first = apply_call(world, missed("c1"))
    [kept_task] = open_tasks(world, "callback")
    second = apply_call(world, missed("c2", counterpart=OTHER, t0=T0 + timedelta(minutes=5)))
    third = apply_call(world, answered("c3", counterpart=OTHER, t0=T0 - timedelta(days=1)))
    [dup_task] = [t for t in open_tasks(world, "callback") if t.contact_id == dup]
    meeting = Meeting(uuid.uuid4(), dup, None, "bob", WHEN.date(), "Doe", "Jane", OTHER, None, "demo", "ok")
    world.meetings[meeting.id] = meeting
    apply_action(world, RecordConsent(**base(contact_id=dup, channel="sms", granted=True, source="form")), POLICY)

    apply_action(world, MergeContacts(**base(contact_id=kept, duplicate_id=dup)), POLICY)

    assert world.contacts[dup].merged_into == kept
    assert world.contacts[kept].owner_id == "ann", "the kept contact keeps its owner"
    assert {a: r.contact_id for a, r in world.addresses.items()} == {CLIENT: kept, OTHER: kept}
    assert {ix.id for ix in world.interactions.values() if ix.contact_id == kept} == {first.id, second.id, third.id}
    assert world.meetings[meeting.id].contact_id == kept
    assert world.consents[(kept, "sms")].granted is True
    [task] = open_tasks(world, "callback")
    assert (task.id, task.attempts, task.assignee_id) == (kept_task.id, 2, "ann"), "one open callback per client"
    gone = world.tasks[dup_task.id]
    assert (gone.status, gone.close_reason) == ("cancelled", f"merged into task {kept_task.id}")
    assert world.open_task("callback", f"contact:{dup}") is None
    assert (kept_task.id, second.id) in world.task_links
    audited = {(e.entity, e.entity_id) for e in world.audit if e.action_kind == "merge_contacts"}
    assert {("contact", str(dup)), ("interaction", str(second.id)), ("contact_address", str(kept))} <= audited
    assert ("task", str(dup_task.id)) in audited
    assert ("meeting", str(meeting.id)) in audited


def test_a_duplicates_task_without_a_twin_moves_to_the_kept_contacts_owner() -> None:
    world = office()
    kept = known_client(world, owner="ann", address=OTHER)
    dup = known_client(world, owner="bob")
    apply_call(world, missed("c1"))
    [task] = open_tasks(world, "callback")
    assert task.assignee_id == "bob"
    apply_action(world, MergeContacts(**base(contact_id=kept, duplicate_id=dup)), POLICY)
    moved = world.tasks[task.id]
    assert (moved.status, moved.contact_id, moved.dedupe_key, moved.assignee_id) == (
        "open",
        kept,
        f"contact:{kept}",
        "ann",
    )
    assert world.open_task("callback", f"contact:{kept}") == moved


def test_a_merged_contact_takes_no_more_actions() -> None:
    world = office()
    kept, dup = known_client(world, owner="ann"), known_client(world, owner="bob", address=OTHER)
    apply_action(world, MergeContacts(**base(contact_id=kept, duplicate_id=dup)), POLICY)
    merged = f"merged into {kept}"
    refused(world, MergeContacts(**base(contact_id=kept, duplicate_id=dup)), merged)
    refused(world, MergeContacts(**base(contact_id=dup, duplicate_id=kept)), merged)
    refused(world, EditContact(**base(contact_id=dup, first_name="X")), merged)
    refused(world, ReassignContact(**base(contact_id=dup, manager_id="ann")), merged)
    refused(world, RecordConsent(**base(contact_id=dup, channel="email", granted=True, source="x")), merged)
    meeting = MeetingData(date=WHEN.date(), last_name="D", first_name="J", phone=OTHER, topic="t", result="r")
    refused(world, RecordMeeting(**base(meeting_id=uuid.uuid4(), contact_id=dup, meeting=meeting)), merged)


def test_consent_is_recorded_per_channel_and_the_latest_word_stands() -> None:
    world = office()
    cid = known_client(world)
    apply_action(world, RecordConsent(**base(contact_id=cid, channel="email", granted=True, source="call")), POLICY)
    apply_action(world, RecordConsent(**base(contact_id=cid, channel="email", granted=False, source="email")), POLICY)
    consent = world.consents[(cid, "email")]
    assert (consent.granted, consent.source, consent.recorded_by, consent.recorded_at) == (False, "email", "otto", WHEN)
    assert [(e.entity, e.entity_id, e.before, e.after) for e in world.audit] == [
        ("consent", f"{cid}|email", None, {"granted": True, "source": "call"}),
        ("consent", f"{cid}|email", {"granted": True, "source": "call"}, {"granted": False, "source": "email"}),
    ]
    refused(world, RecordConsent(**base(contact_id=uuid.uuid4(), channel="sms", granted=True, source="x")), "unknown")


def test_an_open_task_is_reassigned_to_an_active_manager_only() -> None:
    world = office()
    apply_call(world, missed("c1", agent=None))  # an unknown number: nobody's contact
    [task] = open_tasks(world, "callback")
    apply_action(world, ReassignTask(**base(task_id=task.id, manager_id="bob")), POLICY)
    assert world.tasks[task.id].assignee_id == "bob"
    assert world.open_task_counts["bob"] == 1
    [entry] = world.audit
    assert entry.before is not None and entry.after is not None
    assert (entry.entity, entry.before["assignee_id"], entry.after["assignee_id"]) == ("task", "ann", "bob")
    world.managers["cid"].active = False
    refused(world, ReassignTask(**base(task_id=task.id, manager_id="cid")), "inactive manager cid")
    refused(world, ReassignTask(**base(task_id=uuid.uuid4(), manager_id="bob")), "unknown task")
    world.put_task(replace(world.tasks[task.id], status="done"))
    refused(world, ReassignTask(**base(task_id=task.id, manager_id="ann")), "is done")


def test_a_deactivated_manager_keeps_their_team_and_holds_no_work() -> None:
    world = office()
    upsert = {"manager_id": "bob", "name": "Bob", "extensions": ("102",), "on_duty": True}
    apply_action(world, UpsertManager(**base(**upsert, team="east")), POLICY)
    cid = known_client(world, owner="bob")
    apply_call(world, missed("c1", agent="102"))
    [task] = open_tasks(world, "callback")
    assert task.assignee_id == "bob"
    apply_action(world, UpsertManager(**base(**upsert | {"active": False, "on_duty": False})), POLICY)
    assert (world.managers["bob"].team, world.managers["bob"].active) == ("east", False), "absent team: kept"
    assert world.tasks[task.id].assignee_id is None
    assert world.open_task_counts["bob"] == 0
    apply_action(world, ReassignContact(**base(contact_id=cid, manager_id="ann")), POLICY)
    assert world.tasks[task.id].assignee_id == "ann", "the hand-over places the unassigned work"
    apply_call(world, missed("c2", counterpart=OTHER, agent="102", t0=T0 + timedelta(hours=2)))
    assert all(t.assignee_id != "bob" for t in open_tasks(world, "callback")), "no new work for bob"


def test_the_suggestion_follows_the_interaction() -> None:
    world = office()
    ix = apply_call(world, missed("c1", ring=2))
    refresh_suggestion(ix)
    assert ix.suggested_outcome == "no_answer"
    apply_action(world, MarkNumber(**base(interaction_id=ix.id, verdict="wrong")), POLICY)
    refresh_suggestion(ix)
    assert ix.suggested_outcome == "wrong_number"
    assert "flagged as a possible wrong number" in ix.suggestion_reasons
    internal = apply_call(world, answered("c2", counterpart="102", direction="internal", e164=False))
    refresh_suggestion(internal)
    assert (internal.suggested_outcome, internal.suggestion_reasons) == (None, ())


def test_a_batch_audits_the_classifiers_own_changes_as_the_events_and_stores_suggestions() -> None:
    world = office()
    events = [*answered("c1", talk=3), *missed("c2", t0=T0 + timedelta(hours=1), counterpart=OTHER)]
    steps = []
    for n, event in enumerate(events):
        iid = interaction_id(event.source, event.call_id)
        world.interactions.setdefault(iid, blank_interaction(iid, event.call_id))
        steps.append(Step(ConsumedRecord("calls", 0, n, event), iid))
    confirm = SetOutcome(**base(interaction_id=interaction_id("generic", "c2"), outcome="call_back_later"))
    steps.append(Step(ConsumedRecord("actions", 0, 0, confirm)))
    assert apply_events(world, steps, {}, POLICY) == {}
    by_classifier = [(e.action_kind, e.entity, e.after) for e in world.audit if e.actor_id == CLASSIFIER]
    flagged, callback = by_classifier
    assert flagged[:2] == ("call", "interaction") and flagged[2] is not None and flagged[2]["flag"] == "pending"
    assert callback[:2] == ("call", "task") and callback[2] is not None and callback[2]["status"] == "open"
    c1 = world.interactions[interaction_id("generic", "c1")]
    assert (c1.suggested_outcome, world.interactions[confirm.interaction_id].suggested_outcome) == (
        "wrong_number",
        "no_answer",
    )
    [person] = [e for e in world.audit if e.actor_id != CLASSIFIER]
    assert (person.action_kind, person.entity) == ("set_outcome", "interaction")


def test_leads_created_by_a_call_are_audited() -> None:
    world = office()
    events = answered("c1", talk=200)
    iid = interaction_id("generic", "c1")
    world.interactions[iid] = blank_interaction(iid, "c1")
    apply_events(world, [Step(ConsumedRecord("calls", 0, n, e), iid) for n, e in enumerate(events)], {}, POLICY)
    created = {(e.entity, e.entity_id): e.after for e in world.audit if e.before is None}
    lead = IDS.contact(CLIENT)
    assert created[("contact", str(lead))] == {
        "owner_id": "ann",
        "first_name": None,
        "last_name": None,
        "is_lead": True,
    }
    assert any(entity == "task" for entity, _ in created)
    assert all(e.actor_id == CLASSIFIER and e.action_kind == "call" for e in world.audit)
