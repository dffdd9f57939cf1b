"""The office-day simulator: deterministic, and its ground-truth labels agree with the calls and mail it made."""

from __future__ import annotations

import email
import email.policy
import itertools
from dataclasses import replace
from datetime import date, timedelta

from bench.simulator import DayShape, ExpectedTask, SimCall, callback_tasks, generate_day, generate_days
from bench.simulator.generate import VOICEMAIL_AGENT
from bench.simulator.model import TASK_STATUSES, CallStep
from bench.simulator.replay import replay
from bench.simulator.senders import Delivery, SmtpEmailSender
from deploy.local.procs import free_port
from services.ingest.calls.generic import GenericCallPayload, normalize_generic

DAY = date(2026, 11, 26)
BUSY = DayShape(
    managers=4,
    short_client_call_share=0.1,
    wrong_numbers_per_manager=4,
    wrong_number_missed_share=0.2,
    long_wrong_number_share=0.2,
    wrong_number_pool=5,
    wrong_number_repeat_share=0.8,
    spam_callers=4,
    one_ring_spam_share=0.5,
    telemarketer_share=0.5,
    email_threads_per_manager=0,
)


def test_the_same_seed_gives_the_same_day_and_another_seed_another() -> None:
    a, b, c = generate_day(3, DAY), generate_day(3, DAY), generate_day(4, DAY)
    assert [s.payload for s in a.steps] == [s.payload for s in b.steps]
    assert [e.message.as_bytes() for e in a.emails] == [e.message.as_bytes() for e in b.emails]
    assert a.tasks == b.tasks
    assert [s.payload for s in a.steps] != [s.payload for s in c.steps]


def test_every_step_is_a_valid_generic_event_that_normalizes_to_the_true_counterpart() -> None:
    day = generate_day(5, DAY)
    for call in day.calls:
        events = [normalize_generic(GenericCallPayload.model_validate(s.payload), s.at, "US") for s in call.steps]
        assert {e.call_id for e in events} == {call.call_id}
        assert events[-1].phase in ("ended", "recording")
        assert [e.status for e in events if e.phase == "ended"] == [call.status]
        for e in events:
            got = e.counterpart.e164 if e.counterpart else None
            assert got == call.counterpart, (call.call_id, e.counterpart)
            assert e.kafka_key() == call.steps[0].key


def _labels_hold(calls: tuple[SimCall, ...], tasks: tuple[ExpectedTask, ...]) -> None:
    by_id = {c.call_id: c for c in calls}
    opened = [cid for t in tasks for cid in t.opened_by]
    client_misses = [
        c.call_id
        for c in calls
        if c.caller == "client" and c.direction == "inbound" and c.status in TASK_STATUSES and c.counterpart
    ]
    assert sorted(opened) == sorted(client_misses), "every missed call of a client needs a task, no other call"
    assert sorted(c.call_id for c in calls if c.closes_task) == sorted(t.closed_by for t in tasks if t.closed_by)
    by_counterpart: dict[str, list[SimCall]] = {}
    for c in calls:
        if c.caller == "client" and c.counterpart:
            by_counterpart.setdefault(c.counterpart, []).append(c)
    for mine in by_counterpart.values():
        for earlier, later in itertools.pairwise(sorted(mine, key=lambda c: c.started_at)):
            assert earlier.ended_at <= later.started_at, "a client is on one call with us at a time"
    for task in tasks:
        first = by_id[task.opened_by[0]]
        assert all(by_id[cid].counterpart == task.counterpart for cid in task.opened_by)
        if task.closed_by is not None:
            closer = by_id[task.closed_by]
            assert closer.connected and closer.counterpart == task.counterpart
            assert closer.started_at >= by_id[task.opened_by[-1]].ended_at
            between = [
                c for c in by_counterpart[task.counterpart] if first.ended_at <= c.started_at < closer.started_at
            ]
            assert not any(c.connected for c in between), "the first conversation after the miss answers it"
    for call in calls:
        if call.unwanted:
            assert call.contact_id is None and not call.opens_task and not call.closes_task
        if call.direction == "internal":
            assert call.counterpart is None and call.caller == "colleague" and not call.opens_task


def test_ground_truth_labels_agree_with_the_calls() -> None:
    for seed in range(5):
        day = generate_day(seed, DAY)
        _labels_hold(day.calls, day.tasks)
    day = generate_day(9, DAY, DayShape(managers=15, client_calls_per_manager=40))
    _labels_hold(day.calls, day.tasks)


def test_a_week_keeps_its_callers_and_carries_a_waiting_client_into_the_next_day() -> None:
    week = generate_days(3, DAY, 4, BUSY)
    assert [d.office.day for d in week] == [DAY + timedelta(days=i) for i in range(4)]
    assert week[0].calls == generate_day(3, DAY, BUSY).calls, "the first day is the day generated alone"
    calls = tuple(c for d in week for c in d.calls)
    tasks = callback_tasks(calls, owners={c.id: c.owner for c in week[0].office.contacts})
    _labels_hold(calls, tasks)
    days_of = {c.call_id: c.call_id.split("-")[1] for c in calls}
    assert any(len({days_of[cid] for cid in t.opened_by}) > 1 for t in tasks), "a task spans two days"
    spam = {c.counterpart for c in calls if c.spam}
    assert spam == set(week[0].office.spam_numbers)
    new_leads = [c.counterpart for c in calls if c.kind == "new_lead"]
    assert len(new_leads) == len(set(new_leads)), "a new number is never reused"
    repeats = [c.counterpart for c in calls if c.wrong_number and c.counterpart in week[0].office.wrong_numbers]
    assert len(repeats) > len(set(repeats)), "some numbers misdial us again and again"


def test_each_behaviour_of_the_shape_shows_in_the_calls() -> None:
    calls = [c for d in generate_days(5, DAY, 2, BUSY) for c in d.calls]
    wrong = [c for c in calls if c.wrong_number]
    assert any(c.status == "missed" for c in wrong) and any(10 <= c.talk_s <= 15 for c in wrong)
    spam = [c for c in calls if c.spam]
    assert any(c.status == "missed" and (c.decided_at - c.started_at).total_seconds() <= 2 for c in spam)
    assert any(10 <= c.talk_s <= 45 for c in spam), "telemarketers talk"
    assert any(c.caller == "client" and c.status == "answered" and c.talk_s < 10 for c in calls)
    plain = [c for c in generate_day(5, DAY).calls if c.wrong_number or c.spam]
    assert all(c.talk_s < 10 for c in plain) and all(c.status == "answered" for c in plain if c.wrong_number)


def test_a_day_has_every_kind_of_traffic_the_classifier_must_tell_apart() -> None:
    day = generate_day(1, DAY)
    assert {c.kind for c in day.calls} >= {
        "client_inbound", "client_outbound", "callback", "new_lead", "wrong_number", "spam", "internal"
    }  # fmt: skip
    assert {c.status for c in day.calls} >= {"answered", "missed", "voicemail", "busy"}
    assert any(t.closed_by for t in day.tasks) and any(t.closed_by is None for t in day.tasks)
    kinds = {e.kind for e in day.emails}
    assert kinds >= {"received", "sent", "auto-reply", "bounce", "bulk"}


def test_emails_carry_the_headers_that_decide_their_kind() -> None:
    day = generate_day(1, DAY)
    for mail in day.emails:
        parsed = email.message_from_bytes(mail.message.as_bytes(), policy=email.policy.default)
        assert parsed["Message-ID"] == mail.message_id
        if mail.kind == "auto-reply":
            assert parsed["Auto-Submitted"] == "auto-replied" and mail.envelope_from == ""
        if mail.kind == "bounce":
            assert parsed.get_content_type() == "multipart/report"
            assert mail.marks_undeliverable and mail.marks_undeliverable in parsed.as_string()
        if mail.kind == "bulk":
            assert parsed["Precedence"] == "bulk" and parsed["List-Unsubscribe"]
        if mail.kind == "sent" and mail.answers:
            assert parsed["In-Reply-To"] == mail.answers
    needing = {e.message_id for e in day.emails if e.needs_reply}
    assert {e.answers for e in day.emails if e.answers} <= needing


class _RecordingCalls:
    source = "recording"

    def __init__(self) -> None:
        self.sent: list[CallStep] = []

    async def send(self, step: CallStep) -> Delivery:
        self.sent.append(step)
        return Delivery(True, 202)

    async def close(self) -> None:
        return None


async def test_emails_are_skipped_with_a_note_when_nothing_listens_on_the_smtp_port() -> None:
    day = generate_day(2, DAY, DayShape(managers=2, client_calls_per_manager=3))
    calls = _RecordingCalls()
    report = await replay(day, calls, SmtpEmailSender("127.0.0.1", free_port()), concurrency=4)
    assert report.email_skip_reason is not None and "emails are skipped" in report.email_skip_reason
    assert report.emails_skipped == len(day.emails) and report.emails == 0
    assert len(calls.sent) == sum(len(c.steps) for c in day.calls)
    # One client's events go out in order, so Kafka gets them in order.
    by_key: dict[str, list[str]] = {}
    for step in calls.sent:
        by_key.setdefault(step.key, []).append(step.payload["occurred_at"])
    assert all(times == sorted(times) for times in by_key.values())


async def test_time_compression_spreads_the_day_over_the_requested_seconds() -> None:
    day = generate_day(2, DAY, DayShape(managers=2, client_calls_per_manager=3, email_threads_per_manager=0))
    calls = _RecordingCalls()
    report = await replay(day, calls, None, day_seconds=0.5, concurrency=4)
    assert 0.3 <= report.wall_s < 5
    assert report.ok


OFFICE = replace(
    BUSY,
    unfilled_lead_share=0.3,
    lead_return_share=0.5,
    final_only_share=0.3,
    voicemail_answered_share=0.5,
    redial_share=0.3,
    sequential_runs=2,
    withheld_spam_share=0.3,
    new_leads_per_manager=3,
)


def test_the_office_of_issue_11_shows_in_the_calls_and_keeps_its_labels() -> None:
    week = generate_days(6, DAY, 3, OFFICE)
    calls = tuple(c for d in week for c in d.calls)
    _labels_hold(calls, callback_tasks(calls, owners={c.id: c.owner for c in week[0].office.contacts}))
    leads = [c for c in calls if c.kind == "new_lead"]
    assert any(c.fills_lead for c in leads) and any(not c.fills_lead for c in leads)
    lead_numbers = {c.counterpart for c in leads}
    assert any(c.counterpart in lead_numbers and c.kind != "new_lead" for c in calls), "leads call again"
    final_only = [c for c in calls if {s.payload["event"] for s in c.steps} <= {"ended", "recording"}]
    assert final_only and all("duration_s" in c.steps[0].payload for c in final_only)
    greetings = [s for c in calls for s in c.steps if s.payload.get("agent") == VOICEMAIL_AGENT]
    assert greetings and all(s.payload.get("status") in (None, "answered") for s in greetings)
    withheld = [c for c in calls if c.withheld]
    assert withheld and all(c.spam and c.steps[0].payload["from"] == "anonymous" for c in withheld)
    spam_numbers = sorted(c.counterpart for c in calls if c.spam and c.counterpart)
    assert any(int(b[-2:]) - int(a[-2:]) == 1 and a[:-2] == b[:-2] for a, b in itertools.pairwise(spam_numbers))
    by_number: dict[str, list[SimCall]] = {}
    for c in calls:
        if c.caller == "client" and c.direction == "inbound" and c.counterpart:
            by_number.setdefault(c.counterpart, []).append(c)
    redials = [
        b
        for cs in by_number.values()
        for a, b in itertools.pairwise(cs)
        if a.status in TASK_STATUSES and 0 < (b.started_at - a.ended_at).total_seconds() <= 180
    ]
    assert redials, "clients redial within minutes"
