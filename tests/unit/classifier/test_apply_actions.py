"""People's actions on an in-memory BatchState: validation against the domain, effects, and the audit trail."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from schemas.actions import (
    CloseTask,
    MarkNumber,
    MeetingData,
    ReassignContact,
    RecordMeeting,
    SetNumberList,
    SetOutcome,
    SetPlan,
    UpsertManager,
)
from services.classifier.apply_actions import Rejected, apply_action
from services.classifier.key_ids import UNKEYED_FOR_TESTS as IDS
from services.classifier.suggest_outcome import refresh_suggestion
from tests.unit.classifier.factories import CLIENT, POLICY, T0, answered, missed
from tests.unit.classifier.test_classify import apply_call, known_client, office, open_tasks

WHEN = T0 + timedelta(hours=1)


def base(**kw: Any) -> dict[str, Any]:
    return {"event_id": f"a-{uuid.uuid4()}", "actor_id": "ann", "occurred_at": WHEN, **kw}


def test_an_action_on_something_unknown_is_rejected_and_changes_nothing() -> None:
    world = office()
    for action in (
        SetOutcome(**base(interaction_id=uuid.uuid4(), outcome="done")),
        ReassignContact(**base(contact_id=uuid.uuid4(), manager_id="bob")),
        CloseTask(**base(task_id=uuid.uuid4(), resolution="done")),
        SetPlan(**base(manager_id="nobody", metric="meetings", period="2026-11", target=5)),
    ):
        with pytest.raises(Rejected):
            apply_action(world, action, POLICY)
    assert not world.audit
    assert not world.plans


def test_confirming_wrong_number_on_a_flagged_call_confirms_it_and_teaches_the_number() -> None:
    world = office()
    ix = apply_call(world, answered("c1", talk=3))
    assert ix.flag == "pending"
    apply_action(world, SetOutcome(**base(interaction_id=ix.id, outcome="wrong_number")), POLICY)
    assert (ix.flag, ix.outcome, ix.outcome_by) == ("confirmed", "wrong_number", "ann")
    assert world.numbers[CLIENT].marks == {"ann": "wrong"}
    [entry, *_] = [a for a in world.audit if a.entity == "interaction"]
    assert entry.before == {"outcome": None, "flag": "pending", "contact_id": None}
    assert entry.after == {"outcome": "wrong_number", "flag": "confirmed", "contact_id": None}
    assert entry.actor_id == "ann"
    assert entry.acted_at == WHEN
    again = apply_call(world, answered("c2", talk=50, t0=T0 + timedelta(hours=2)))
    assert again.flag == "confirmed", "the same number is not asked about twice"


def test_clearing_a_flagged_missed_call_creates_the_callback_it_held_back() -> None:
    world = office()
    for n in range(3):  # three short answered calls earlier: the next miss looks suspicious
        apply_call(world, answered(f"old{n}", talk=3, t0=T0 - timedelta(days=n + 1)))
    ix = apply_call(world, missed("c1", ring=2))
    assert ix.flag == "pending"
    assert not open_tasks(world, "callback")
    apply_action(world, MarkNumber(**base(interaction_id=ix.id, verdict="legit")), POLICY)
    assert ix.flag == "cleared"
    [task] = open_tasks(world, "callback")
    assert task.interaction_id == ix.id
    later = apply_call(world, answered("c2", talk=3, t0=T0 + timedelta(days=1)))
    assert later.flag is None, "a corrected number is not flagged again for the same pattern"


def test_marking_a_call_spam_cancels_the_work_it_created() -> None:
    world = office()
    ix = apply_call(world, missed("c1"))
    [task] = open_tasks(world, "callback")
    apply_action(world, MarkNumber(**base(interaction_id=ix.id, verdict="spam")), POLICY)
    assert world.tasks[task.id].status == "cancelled"
    assert world.tasks[task.id].close_reason == "number marked spam"
    assert ix.outcome == "wrong_number"


def test_block_and_allow_lists() -> None:
    world = office()
    apply_action(world, SetNumberList(**base(number=CLIENT, list="block")), POLICY)
    assert world.numbers[CLIENT].list == "block"
    apply_call(world, missed("c1"))
    assert not world.tasks
    apply_action(world, SetNumberList(**base(number=CLIENT, list="none")), POLICY)
    assert world.numbers[CLIENT].list is None
    assert [(a.before, a.after) for a in world.audit] == [
        ({"list": None}, {"list": "block"}),
        ({"list": "block"}, {"list": None}),
    ]


def test_reassigning_a_contact_moves_its_open_tasks_and_is_audited() -> None:
    world = office()
    cid = known_client(world, owner="cid")
    apply_call(world, missed("c1"))
    [task] = open_tasks(world, "callback")
    assert task.assignee_id == "cid"
    apply_action(world, ReassignContact(**base(contact_id=cid, manager_id="bob")), POLICY)
    assert world.contacts[cid].owner_id == "bob"
    assert world.tasks[task.id].assignee_id == "bob"
    assert {a.entity for a in world.audit} == {"contact", "task"}
    world.managers["bob"].active = False
    with pytest.raises(Rejected, match="inactive"):
        apply_action(world, ReassignContact(**base(contact_id=cid, manager_id="bob")), POLICY)


def test_meeting_data_fills_in_the_lead_and_closes_its_fill_in_task() -> None:
    world = office()
    ix = apply_call(world, answered("c1", talk=200))
    lead = IDS.contact(CLIENT)
    [fill] = open_tasks(world, "fill_contact_data")
    meeting = MeetingData(
        date=date(2026, 11, 30),
        last_name="Doe",
        first_name="Jane",
        email="Jane@Client.test",
        topic="demo",
        result="trial",
    )
    apply_action(
        world,
        RecordMeeting(**base(meeting_id=uuid.uuid4(), contact_id=lead, interaction_id=ix.id, meeting=meeting)),
        POLICY,
    )
    assert (world.contacts[lead].first_name, world.contacts[lead].last_name) == ("Jane", "Doe")
    assert world.addresses["jane@client.test"].contact_id == lead
    assert world.tasks[fill.id].status == "done"
    assert world.tasks[fill.id].closed_by_manager_id == "ann"
    [m] = world.meetings.values()
    assert (m.manager_id, m.topic) == ("ann", "demo")


def test_plans_and_managers_are_upserted_with_before_and_after() -> None:
    world = office()
    apply_action(world, SetPlan(**base(manager_id="bob", metric="meetings", period="2026-11", target=5)), POLICY)
    apply_action(world, SetPlan(**base(manager_id="bob", metric="meetings", period="2026-11", target=8)), POLICY)
    assert world.plans[("bob", "meetings", "2026-11")].target == 8
    assert [(a.before, a.after) for a in world.audit] == [(None, {"target": 5}), ({"target": 5}, {"target": 8})]
    apply_action(world, UpsertManager(**base(manager_id="dan", name="Dan", extensions=("102",), on_duty=True)), POLICY)
    assert world.extensions["102"] == "dan", "an extension rings one manager: the newest assignment wins"
    assert world.managers["bob"].extensions == ()
    assert world.manager_for_agent("102") == "dan"


def test_closing_a_task_by_hand_twice_is_harmless() -> None:
    world = office()
    apply_call(world, missed("c1"))
    [task] = open_tasks(world, "callback")
    for _ in range(2):
        apply_action(world, CloseTask(**base(task_id=task.id, resolution="done")), POLICY)
    assert world.tasks[task.id].close_reason == "closed by hand"
    assert len([a for a in world.audit if a.entity == "task"]) == 1


def test_a_call_back_outcome_on_an_unflagged_call_is_evidence_of_a_real_client() -> None:
    """Issue 11: a manager's "call back" or "fine" counts, not only verdicts on flagged calls."""
    world = office()
    ix = apply_call(world, missed("c1", ring=20))
    assert ix.flag is None
    for outcome in ("call_back_later", "call_back_later", "taken_into_work"):
        apply_action(world, SetOutcome(**base(interaction_id=ix.id, outcome=outcome)), POLICY)
    assert world.numbers[CLIENT].evidence == 1, "clicking again on the same call is not more evidence"
    later = apply_call(world, answered("c2", talk=3, t0=T0 + timedelta(days=1)))
    assert later.flag is None
    assert later.spam_reasons == ('a real client: a manager\'s "call back later" on a call',)
    apply_action(world, SetOutcome(**base(interaction_id=later.id, outcome="wrong_number", actor_id="bob")), POLICY)
    again = apply_call(world, answered("c3", talk=3, t0=T0 + timedelta(days=2)))
    assert again.flag == "confirmed", "a person saying otherwise outweighs the evidence"


def test_an_outcome_that_is_not_a_clients_or_only_accepts_the_suggestion_gives_no_evidence() -> None:
    """The queue confirms suggestions in bulk: "connected" on an answered call is the machine's guess accepted."""
    world = office()
    ix = apply_call(world, missed("c1", ring=20))
    apply_action(world, SetOutcome(**base(interaction_id=ix.id, outcome="no_answer")), POLICY)
    talked = apply_call(world, answered("c2", talk=20, t0=T0 + timedelta(hours=1)))
    refresh_suggestion(talked)
    assert (talked.flag, talked.suggested_outcome) == (None, "connected")
    apply_action(world, SetOutcome(**base(interaction_id=talked.id, outcome="connected")), POLICY)
    assert world.numbers[CLIENT].evidence == 0
    assert apply_call(world, answered("c3", talk=3, t0=T0 + timedelta(days=1))).flag == "pending"
