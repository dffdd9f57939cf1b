"""What calls and emails do to the client base, on an in-memory BatchState (no broker, no database)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from schemas.events import CallEvent, EmailEvent
from services.classifier.batch_state import Address, BatchState, Contact, Interaction, Task
from services.classifier.classify import CallChange, on_call, on_email
from services.classifier.fold_events import fold_email_into
from services.classifier.key_ids import UNKEYED_FOR_TESTS as IDS
from services.classifier.score_spam import NumberStats
from services.classifier.thread_emails import email_interaction_id, message_key, thread_of
from services.ingest.calls.generic import GenericCallPayload, normalize_generic
from tests.unit.classifier.factories import (
    CLIENT,
    OWN,
    POLICY,
    T0,
    answered,
    email,
    folded,
    missed,
    world_with_managers,
)


def apply_call(world: BatchState, events: list[CallEvent]) -> Interaction:
    ix, prior, rang = folded(world, events)
    on_call(world, CallChange(ix, prior, rang), POLICY)
    return ix


def known_client(world: BatchState, owner: str = "cid", address: str = CLIENT) -> uuid.UUID:
    cid = uuid.uuid4()
    world.contacts[cid] = Contact(cid, owner, "Jane", "Doe", created_automatically=False, is_lead=False)
    world.addresses[address] = Address(address, cid, "phone" if address.startswith("+") else "email")
    return cid


def open_tasks(world: BatchState, kind: str) -> list[Task]:
    return [t for t in world.tasks.values() if t.kind == kind and t.status == "open"]


def office() -> BatchState:
    return world_with_managers(("ann", "101", True), ("bob", "102", True), ("cid", "103", False))


def test_a_missed_call_from_a_client_gives_the_owner_a_callback_due_by_the_sla() -> None:
    world = office()
    cid = known_client(world)
    ix = apply_call(world, missed("c1", agent="101"))
    assert ix.auto_status == "missed"
    assert ix.contact_id == cid
    [task] = open_tasks(world, "callback")
    assert task.assignee_id == "cid"
    assert task.contact_id == cid
    assert task.due_at == T0 + timedelta(seconds=20, minutes=30)
    assert task.reason == "missed inbound call"


def test_repeat_misses_add_attempts_to_one_open_callback() -> None:
    world = office()
    known_client(world)
    for n in range(3):
        apply_call(world, missed(f"c{n}"))
    apply_call(world, missed("c0"))  # the same call again changes nothing
    [task] = open_tasks(world, "callback")
    assert task.attempts == 3
    assert {i for t, i in world.task_links if t == task.id} == {f.id for f in world.interactions.values()}


def test_an_unknown_callers_miss_goes_to_the_last_ringing_manager_and_is_keyed_by_number() -> None:
    world = office()
    apply_call(world, missed("c1", agent="102"))
    [task] = open_tasks(world, "callback")
    assert task.assignee_id == "bob"
    assert task.dedupe_key == f"address:{CLIENT}"
    assert task.contact_id is None


def test_abandoned_in_the_ivr_goes_to_the_on_duty_manager_with_fewest_open_tasks() -> None:
    world = office()
    world.open_task_counts = {"ann": 4, "bob": 2}
    ix = apply_call(world, missed("c1", agent=None))
    assert ix.auto_status == "abandoned"
    [task] = open_tasks(world, "callback")
    assert task.assignee_id == "bob"
    assert task.reason == "caller hung up before any agent's phone rang"
    assert world.open_task_counts["bob"] == 3


def test_a_connected_call_either_way_closes_the_callback_and_records_who_and_how_long() -> None:
    world = office()
    known_client(world)
    apply_call(world, missed("c1"))
    later = T0 + timedelta(minutes=42)
    back = apply_call(world, answered("c2", direction="outbound", agent="103", t0=later))
    [task] = world.tasks.values()
    assert task.status == "done"
    assert task.closed_by_interaction_id == back.id
    assert task.closed_by_manager_id == "cid"
    assert task.response_s == 42 * 60 + 5 - 20
    assert world.open_task_counts.get("cid") == 0


def test_an_unknown_number_on_a_real_conversation_becomes_a_lead_of_who_took_it_with_a_fill_in_task() -> None:
    world = office()
    ix = apply_call(world, answered("c1", agent="102", talk=300))
    lead = world.contacts[IDS.contact(CLIENT)]
    assert ix.contact_id == lead.id
    assert (lead.owner_id, lead.created_automatically, lead.is_lead) == ("bob", True, True)
    assert world.addresses[CLIENT].contact_id == lead.id
    [task] = open_tasks(world, "fill_contact_data")
    assert task.assignee_id == "bob"
    assert task.reason == "new lead from a call: fill in the minimum data set"
    assert ix.flag is None


def test_a_flagged_short_call_makes_no_lead_and_waits_for_a_person() -> None:
    world = office()
    ix = apply_call(world, answered("c1", talk=4))
    assert ix.flag == "pending"
    assert "4 s answered call" in ix.spam_reasons
    assert not world.contacts
    assert not world.tasks
    assert world.numbers[CLIENT].short_calls == 1


def test_a_flagged_missed_call_creates_no_callback() -> None:
    world = office()
    world.numbers[CLIENT] = NumberStats(marks={"ann": "spam"})
    ix = apply_call(world, missed("c1"))
    assert ix.flag == "confirmed"
    assert not world.tasks


def test_a_blocked_number_never_creates_work() -> None:
    world = office()
    world.numbers[CLIENT] = NumberStats(list="block")
    apply_call(world, answered("c1", talk=600))
    apply_call(world, missed("c2"))
    assert not world.tasks
    assert not world.contacts


def test_internal_calls_and_calls_with_our_own_numbers_are_recorded_apart() -> None:
    world = office()
    ix = apply_call(world, missed("c1", direction="internal", counterpart="102"))
    assert ix.internal
    own = apply_call(world, answered("c2", counterpart=OWN))
    assert own.internal
    assert own.spam_score is None
    assert not world.tasks
    assert not world.contacts


def test_outbound_unanswered_calls_create_no_callback() -> None:
    world = office()
    known_client(world)
    apply_call(world, missed("c1", direction="outbound"))
    assert not world.tasks


def test_each_call_counts_once_in_the_numbers_statistics_even_when_its_status_changes() -> None:
    world = office()
    known_client(world)
    events = missed("c1")
    apply_call(world, events)
    late_leg = answered("c1", talk=30)
    apply_call(world, events + late_leg)
    assert world.numbers[CLIENT].calls == 1
    [task] = world.tasks.values()
    assert task.status == "done", "the late answer closes the callback it had caused"


def mail(world: BatchState, event: EmailEvent) -> Interaction:
    """Threads, folds and classifies one message with the classifier's own functions."""
    iid = email_interaction_id(event)
    known = {i.external_id: i.thread_id for i in world.interactions.values() if i.thread_id}
    ix = Interaction(iid, "email", "smtp", message_key(event), event.direction, version=1)
    ix.thread_id = thread_of(event, known)
    world.interactions[iid] = ix
    on_email(world, fold_email_into(ix, event), POLICY)
    return ix


def test_an_inbound_email_from_a_stranger_makes_a_lead_and_a_reply_task_closed_by_our_answer() -> None:
    world = office()
    first = mail(world, email("q1@client"))
    lead = world.contacts[IDS.contact("jane@client.test")]
    assert first.contact_id == lead.id
    assert lead.owner_id == "ann", "owned by the manager whose mailbox it reached"
    [reply] = open_tasks(world, "reply")
    assert reply.assignee_id == "ann"
    assert reply.due_at == T0 + timedelta(hours=4)
    mail(world, email("q2@client", in_reply_to="q1@client", references=("q1@client",), minutes=3))
    assert world.tasks[reply.id].attempts == 2
    answer = mail(
        world,
        email(
            "a1@example.com",
            direction="outbound",
            in_reply_to="q2@client",
            references=("q1@client", "q2@client"),
            minutes=30,
        ),
    )
    done = world.tasks[reply.id]
    assert (done.status, done.closed_by_interaction_id, done.closed_by_manager_id) == ("done", answer.id, "ann")
    assert done.response_s == 30 * 60


def test_auto_replies_and_bulk_mail_create_no_task_and_bounces_mark_the_address_undeliverable() -> None:
    world = office()
    known_client(world, address="jane@client.test")
    sent = mail(world, email("out1@example.com", direction="outbound"))
    mail(world, email("ooo@client", auto_submitted="auto-replied", is_auto_reply=True, in_reply_to="out1@example.com"))
    mail(world, email("news@client", precedence="bulk"))
    assert not world.tasks
    mail(
        world,
        email("dsn@mx", counterpart="mailer-daemon@mx.client.test", is_bounce=True, in_reply_to="out1@example.com"),
    )
    assert world.addresses["jane@client.test"].undeliverable
    assert sent.thread_id is not None
    assert not world.tasks


def lead_with_email(world: BatchState) -> uuid.UUID:
    """A lead a call made, which nobody named, whose email address someone added."""
    cid = IDS.contact(CLIENT)
    world.contacts[cid] = Contact(cid, "ann", None, None, created_automatically=True, is_lead=True)
    world.addresses[CLIENT] = Address(CLIENT, cid, "phone")
    world.addresses["jane@client.test"] = Address("jane@client.test", cid, "email")
    return cid


def test_an_email_from_a_contact_vouches_for_its_phone_numbers() -> None:
    """Issue 11: an email exchange is evidence of a real client; a later short call from the number is not flagged."""
    world = office()
    lead_with_email(world)
    assert apply_call(world, answered("c0", talk=3, t0=T0 - timedelta(days=1))).flag == "pending"
    mail(world, email("q1@client"))
    assert world.numbers[CLIENT].evidence == 1
    ix = apply_call(world, answered("c1", talk=3, t0=T0 + timedelta(days=1)))
    assert ix.flag is None
    assert ix.spam_reasons == ("a real client: an email from them",)


def test_our_reply_to_a_contacts_email_vouches_for_its_phone_numbers_and_automatic_mail_does_not() -> None:
    world = office()
    lead_with_email(world)
    mail(world, email("ooo@client", auto_submitted="auto-replied", is_auto_reply=True))
    mail(world, email("news@client", precedence="bulk"))
    mail(world, email("out0@example.com", direction="outbound"))
    assert world.numbers.get(CLIENT, NumberStats()).evidence == 0, "only a person's mail and our replies to it"
    mail(world, email("q1@client"))
    mail(world, email("a1@example.com", direction="outbound", in_reply_to="q1@client", minutes=5))
    assert world.numbers[CLIENT].evidence == 2
    assert world.numbers[CLIENT].evidence_reason == "our reply to their email"


def test_internal_mail_is_recorded_apart() -> None:
    world = office()
    ix = mail(world, email("int@example.com", counterpart="bob@example.com"))
    assert ix.internal
    assert not world.tasks
    assert not world.contacts


def test_a_message_ingest_did_not_call_an_auto_reply_gets_a_reply_task() -> None:
    """`Auto-Submitted: no; x` is "no" with a comment: ingest does not flag it, and the classifier used to read the
    raw header again and call it an auto-reply, so nobody was asked to answer."""
    world = office()
    known_client(world, address="jane@client.test")
    ix = mail(world, email("q@client", auto_submitted="no; x"))
    assert ix.auto_status == "received"
    [reply] = open_tasks(world, "reply")
    assert reply.thread_id == ix.thread_id


def test_a_raw_number_ingest_could_not_parse_is_never_taken_for_e164() -> None:
    """+331476618690 has the form of E.164 but phonenumbers refuses it, so ingest gives no `e164`: no number
    statistics, no callback by number, no lead."""
    world = office()
    ix = apply_call(world, missed("c1", counterpart="+331476618690", e164=None))
    assert ix.counterpart == "+331476618690" and not ix.counterpart_is_e164
    assert ix.phone is None
    assert not world.numbers
    assert not world.tasks
    assert not world.contacts


def final_only(call_id: str, **fields: object) -> list[CallEvent]:
    """What a PBX that reports only the end of a call sends, through the generic feed's own normalizer."""
    payload = {
        "call_id": call_id,
        "event": "ended",
        "occurred_at": "2026-11-26T10:01:05Z",
        "direction": "inbound",
        "from": CLIENT,
        "to": "+14155550100",
        **fields,
    }
    return [normalize_generic(GenericCallPayload.model_validate(payload), T0, "US")]


def test_a_final_only_missed_call_rang_for_its_duration_and_keeps_its_callback() -> None:
    """Issue 11: the generic feed's final-only miss with duration_s 25 was 'hung up after 0 s', flagged, no task."""
    world = office()
    ix = apply_call(world, final_only("readme-1", status="missed", agent="101", duration_s=25))
    assert ix.ring_s == 25
    assert ix.flag is None
    assert not any("hung up" in r for r in ix.spam_reasons)
    assert [t.reason for t in open_tasks(world, "callback")] == ["missed inbound call"]
    assert ix.started_at is not None and ix.ended_at is not None
    assert (ix.ended_at - ix.started_at).total_seconds() == 25


def test_a_final_only_missed_call_without_a_duration_has_an_unknown_ring_time_not_zero() -> None:
    world = office()
    ix = apply_call(world, final_only("readme-2", status="missed"))
    assert ix.ring_s is None
    assert ix.flag is None
    assert open_tasks(world, "callback")


def test_a_number_with_a_real_conversation_is_not_flagged_again_even_as_an_unfilled_lead() -> None:
    world = office()
    apply_call(world, answered("c1", talk=600))
    assert world.contacts, "the conversation made a lead nobody filled in"
    later = [apply_call(world, answered(f"c{n}", talk=3, t0=T0 + timedelta(days=n))) for n in range(2, 6)]
    assert [ix.flag for ix in later] == [None] * 4
    assert later[-1].spam_reasons == ("a real client: a 10 min conversation",)
    assert world.numbers[CLIENT].evidence == 1


def test_our_outbound_calls_are_never_flagged() -> None:
    world = office()
    world.numbers[CLIENT] = NumberStats(short_calls=3, one_ring=2)
    ix = apply_call(world, answered("c1", talk=3, direction="outbound"))
    assert (ix.flag, ix.flag_kind, ix.spam_reasons) == (None, None, ("our own call",))


def test_flags_say_wrong_number_or_spam() -> None:
    world = office()
    wrong = apply_call(world, answered("c1", talk=12))
    assert (wrong.flag, wrong.flag_kind) == ("pending", "wrong_number")
    spam = apply_call(world, missed("c2", counterpart="anonymous", e164=None))
    assert (spam.flag, spam.flag_kind) == ("pending", "spam")


def test_a_weakly_flagged_missed_call_keeps_its_callback_marked_possibly() -> None:
    world = office()
    for n, number in enumerate(("+14155550180", "+14155550181")):
        apply_call(world, missed(f"r{n}", counterpart=number, ring=20, t0=T0 + timedelta(minutes=n)))
    ix = apply_call(world, missed("r9", counterpart="+14155550182", ring=20, t0=T0 + timedelta(minutes=3)))
    assert (ix.flag, ix.flag_kind) == ("pending", "spam")
    [task] = [t for t in open_tasks(world, "callback") if t.address == "+14155550182"]
    assert task.reason == "missed inbound call (possibly spam: 2 close numbers called within 30 min)"


def test_a_strongly_flagged_missed_call_holds_its_callback_back() -> None:
    world = office()
    for n in range(2):
        apply_call(world, missed(f"o{n}", ring=1, t0=T0 + timedelta(hours=n)))
    ix = apply_call(world, missed("o9", ring=1, t0=T0 + timedelta(hours=3)))
    assert ix.flag == "pending"
    assert "2 one-ring calls before" in ix.spam_reasons
    [task] = open_tasks(world, "callback")
    linked = {iid for tid, iid in world.task_links if tid == task.id}
    assert ix.id not in linked, "a strong flag holds the callback back"
    assert task.attempts == 2, "the first miss and the weakly flagged second one"
