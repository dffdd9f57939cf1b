"""The pure expectations the simulator's check holds Touchpoint to: callback and reply tasks by the classifier's
documented rules, and precision/recall of flags against the labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from bench.simulator.check import StoredTask, compare_callbacks
from bench.simulator.expect import expected_callbacks, expected_replies, labelled_unwanted, score_flags
from bench.simulator.model import CallStatus, CallStep, Direction, SimCall, SimEmail

T0 = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
ALICE = "+14155550123"
BOB = "+14155550177"


def call(
    call_id: str,
    minute: int,
    status: CallStatus,
    *,
    direction: Direction = "inbound",
    manager: str | None = "m01",
    counterpart: str | None = ALICE,
    duration_s: int = 30,
    **labels: Any,
) -> SimCall:
    """A call starting `minute` minutes after T0 with the PBX events its status implies."""
    start = T0 + timedelta(minutes=minute)
    end = start + timedelta(seconds=duration_s)
    events: list[tuple[datetime, str]] = [(start, "initiated")]
    if status != "abandoned":
        events.append((start + timedelta(seconds=1), "ringing"))
    if status == "answered":
        events.append((start + timedelta(seconds=5), "answered"))
    events.append((end, "ended"))
    steps = tuple(
        CallStep(at, call_id, counterpart or call_id, {"id": f"{call_id}-{i}", "event": event})
        for i, (at, event) in enumerate(events)
    )
    return SimCall(
        call_id=call_id,
        kind="client_inbound",
        direction=direction,
        manager_id=manager,
        counterpart=counterpart,
        contact_id=None,
        started_at=start,
        ended_at=end,
        status=status,
        talk_s=duration_s - 5 if status == "answered" else 0,
        steps=steps,
        **labels,
    )


def test_a_miss_opens_a_task_repeat_misses_add_attempts_and_a_connected_callback_closes_it() -> None:
    calls = [
        call("c1", 0, "missed", manager="m02"),
        call("c2", 10, "missed", manager="m02"),
        call("c3", 30, "answered", direction="outbound", manager="m03"),
    ]
    (task,) = expected_callbacks(calls)
    assert task.opened_by == ("c1", "c2") and task.counterpart == ALICE
    assert task.assignee == "m02", "nobody owns the number: the manager whose phone rang"
    assert task.closed_by == "c3" and task.closed_by_manager == "m03"
    assert task.closed_after_s == 30 * 60 + 5 - 30, "from the first miss's end to the answer, as response_s"


def test_voicemail_and_busy_open_no_task_and_the_next_miss_is_a_new_task_after_a_close() -> None:
    calls = [
        call("c1", 0, "voicemail"),
        call("c2", 5, "busy"),
        call("c3", 10, "missed"),
        call("c4", 20, "answered"),
        call("c5", 40, "abandoned"),
    ]
    first, second = expected_callbacks(calls)
    assert (first.opened_by, first.closed_by) == (("c3",), "c4")
    assert (second.opened_by, second.closed_by) == (("c5",), None)
    assert second.assignee == "m01", "the answered call made its manager the owner, as an automatic lead"


def test_an_abandoned_call_from_a_stranger_has_no_rule_given_assignee_unless_an_owner_is_known() -> None:
    calls = [call("c1", 0, "abandoned", manager="m04")]
    assert expected_callbacks(calls)[0].assignee is None, "no phone rang: the classifier balances on-duty load"
    assert expected_callbacks(calls, owners={ALICE: "m05"})[0].assignee == "m05"


def test_flagged_calls_neither_open_nor_close_and_internal_calls_are_ignored() -> None:
    calls = [
        call("s1", 0, "missed", counterpart=BOB, spam=True),
        call("c1", 1, "missed"),
        call("w1", 2, "answered", duration_s=8, wrong_number=True),
        call("i1", 3, "answered", direction="internal", counterpart=None),
    ]
    (task,) = expected_callbacks(calls)
    assert task.opened_by == ("c1",) and task.closed_by is None
    # With another flag decision (the classifier's), the same calls imply other tasks.
    flagged_nothing = expected_callbacks(calls, flagged=lambda c: False)
    assert [(t.opened_by, t.closed_by) for t in flagged_nothing] == [(("c1",), "w1"), (("s1",), None)]


def test_a_conversation_that_ended_before_the_miss_does_not_answer_it_but_one_ending_after_does() -> None:
    # The manager is talking to the client, who calls again meanwhile and is missed; the talk ends later.
    talk = call("c1", 0, "answered", direction="outbound", duration_s=600)
    miss = call("c2", 2, "missed")
    (task,) = expected_callbacks([talk, miss])
    assert task.opened_by == ("c2",) and task.closed_by == "c1"
    earlier = call("c0", 0, "answered", duration_s=60)
    (task,) = expected_callbacks([earlier, miss])
    assert task.closed_by is None


def test_a_flagged_miss_that_was_wanted_shows_up_as_lost_against_the_truth() -> None:
    calls = [call("c1", 0, "missed"), call("s1", 1, "missed", counterpart=BOB, spam=True)]
    truth = expected_callbacks(calls)
    # The classifier flagged the client's call and not the robocaller's.
    by_rules = expected_callbacks(calls, flagged=lambda c: c.call_id == "c1")
    stored = [
        StoredTask("t1", "open", BOB, t.assignee, t.opened_by, len(t.opened_by), None, None, None) for t in by_rules
    ]
    assert compare_callbacks(by_rules, stored).ok
    result = compare_callbacks(truth, stored)
    assert (result.lost, result.extra) == (["c1"], ["s1"])


def test_precision_and_recall_count_external_calls_only() -> None:
    calls = [
        call("w1", 0, "answered", duration_s=8, wrong_number=True),
        call("s1", 1, "missed", counterpart=BOB, spam=True),
        call("c1", 2, "answered"),
        call("c2", 3, "missed"),
        call("i1", 4, "answered", direction="internal", counterpart=None),
    ]
    flagged = {"w1", "c2", "i1"}
    score = score_flags(calls, lambda c: c.call_id in flagged)
    assert (score.true_positive, score.false_positive, score.false_negative, score.true_negative) == (1, 1, 1, 1)
    assert score.precision == 0.5 and score.recall == 0.5
    assert score.missed_by_kind == {"spam": 1} and score.false_by_kind == {"client_inbound": 1}
    assert all(labelled_unwanted(c) for c in calls if c.call_id in ("w1", "s1"))


def mail(message_id: str, minute: int, kind: str, root: str, **labels: Any) -> SimEmail:
    return SimEmail(
        message_id=message_id,
        kind=kind,  # type: ignore[arg-type] # the tests pass valid kinds
        at=T0 + timedelta(minutes=minute),
        key="client@acme.test",
        message=EmailMessage(),
        envelope_from="",
        envelope_to=(),
        thread_root=root,
        manager_id="m01",
        contact_id="c1",
        **labels,
    )


def test_reply_tasks_open_on_mail_that_needs_a_reply_and_close_on_the_managers_next_mail() -> None:
    emails = [
        mail("<a>", 0, "received", "<a>", needs_reply=True),
        mail("<b>", 5, "received", "<a>", needs_reply=True),
        mail("<c>", 30, "sent", "<a>", answers="<b>"),
        mail("<d>", 40, "received", "<a>", needs_reply=True),
        mail("<o>", 0, "sent", "<o>"),
        mail("<r>", 1, "auto-reply", "<o>"),
        mail("<n>", 2, "bulk", "<n>"),
        mail("<x>", 3, "bounce", "<o>", marks_undeliverable="client@acme.test"),
    ]
    first, second = expected_replies(emails)
    assert (first.opened_by, first.closed_by) == (("<a>", "<b>"), "<c>")
    assert (second.opened_by, second.closed_by) == (("<d>",), None)
