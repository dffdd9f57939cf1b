"""The office-day simulator: deterministic, and its ground-truth labels agree with the calls and mail it made."""

from __future__ import annotations

import email
import email.policy
from datetime import date

from bench.simulator import DayShape, generate_day
from bench.simulator.model import CallStep, OfficeDay
from bench.simulator.replay import replay
from bench.simulator.senders import Delivery, SmtpEmailSender
from deploy.local.procs import free_port
from services.ingest.calls.generic import GenericCallPayload, normalize_generic

DAY = date(2026, 11, 26)


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


def _labels_hold(day: OfficeDay) -> None:
    by_id = {c.call_id: c for c in day.calls}
    opened = [cid for t in day.tasks for cid in t.opened_by]
    assert sorted(opened) == sorted(c.call_id for c in day.calls if c.opens_task)
    for task in day.tasks:
        first = by_id[task.opened_by[0]]
        assert all(by_id[cid].counterpart == task.counterpart for cid in task.opened_by)
        if task.closed_by is not None:
            closer = by_id[task.closed_by]
            assert closer.connected and closer.counterpart == task.counterpart
            assert closer.decided_at >= first.decided_at, "a call that ended before the miss does not answer it"
            between = [
                c
                for c in day.calls
                if c.counterpart == task.counterpart and first.decided_at < c.decided_at < closer.decided_at
            ]
            assert not any(c.connected for c in between), "the first connected call closes the task"
    for call in day.calls:
        if call.wrong_number or call.spam:
            assert call.contact_id is None and not call.opens_task
        if call.kind == "wrong_number":
            assert call.status == "answered" and call.talk_s < 10
        if call.direction == "internal":
            assert call.counterpart is None and not call.opens_task


def test_ground_truth_labels_agree_with_the_calls() -> None:
    for seed in range(5):
        _labels_hold(generate_day(seed, DAY))
    _labels_hold(generate_day(9, DAY, DayShape(managers=15, client_calls_per_manager=40)))


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
