"""The simulator's labels and the pure comparisons of its check: tasks grouped from the labels, stored tasks held
to them with the flags' effects apart, and the one precision/recall scorer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from bench.simulator.compare import StoredTask, compare_callbacks, compare_replies
from bench.simulator.model import CallStatus, CallStep, Direction, SimCall, SimEmail, callback_tasks, reply_tasks
from bench.simulator.score import FlagScore, score_flags

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
    contact_id: str | None = None,
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
        contact_id=contact_id,
        started_at=start,
        ended_at=end,
        status=status,
        talk_s=duration_s - 5 if status == "answered" else 0,
        steps=steps,
        **labels,
    )


def stored(task_id: str, linked: tuple[str, ...], **facts: Any) -> StoredTask:
    values: dict[str, Any] = {
        "status": "open",
        "counterpart": ALICE,
        "assignee": "m02",
        "attempts": len(linked),
        "closed_by": None,
        "closed_by_manager": None,
        "response_s": None,
    }
    return StoredTask(id=task_id, linked=linked, **{**values, **facts})


# A client missed twice (one labelled task), called back by m03 half an hour later; a robocaller's miss.
DAY = (
    call("c1", 0, "missed", manager="m02", callback_task="c1"),
    call("c2", 10, "missed", manager="m02", callback_task="c1"),
    call("c3", 30, "answered", direction="outbound", manager="m03", closes_task="c1"),
    call("s1", 40, "missed", counterpart=BOB, caller="spam"),
)
RANG = {c.call_id: c.rang for c in DAY}
CLOSED = {"status": "done", "closed_by": "c3", "closed_by_manager": "m03", "response_s": 30 * 60 + 5 - 30}


def test_tasks_are_grouped_from_the_labels_with_who_should_call_back() -> None:
    (task,) = callback_tasks(DAY, owners={})
    assert task.opened_by == ("c1", "c2") and task.counterpart == ALICE
    assert task.assignee == "m02", "nobody's contact: the manager whose phone rang"
    assert (task.closed_by, task.closed_by_manager) == ("c3", "m03")
    assert task.closed_after_s == 30 * 60 + 5 - 30, "from the first miss's end to the answer"
    owned = (call("c1", 0, "abandoned", contact_id="k1", callback_task="c1"),)
    assert callback_tasks(owned, owners={"k1": "m05"})[0].assignee == "m05"
    stranger = (call("c1", 0, "abandoned", callback_task="c1"),)
    assert callback_tasks(stranger, owners={})[0].assignee is None, "no phone rang and nobody owns the number"


def test_stored_tasks_that_match_the_labels_pass() -> None:
    result = compare_callbacks(callback_tasks(DAY, {}), [stored("t", ("c1", "c2"), **CLOSED)], set(), {"s1"}, RANG)
    assert result.ok and result.matched == 1
    assert (result.client_misses, result.misses_without_task) == (2, 0)


def test_each_way_a_stored_task_can_differ_from_the_labels_fails_the_hard_check() -> None:
    expected = callback_tasks(DAY, {})
    cases: list[tuple[list[StoredTask], str]] = [
        ([], "lost"),
        ([stored("t", ("c1",), **CLOSED), stored("u", ("c2",), **CLOSED)], "split"),
        ([stored("t", ("c1", "c2"), **{**CLOSED, "attempts": 1})], "wrong_calls"),
        ([stored("t", ("c1", "c2"))], "wrongly_open"),
        ([stored("t", ("c1", "c2"), **{**CLOSED, "closed_by": "c9"})], "wrongly_closed"),
        ([stored("t", ("c1", "c2"), **{**CLOSED, "response_s": 5})], "wrong"),
        ([stored("t", ("c1", "c2"), **{**CLOSED, "assignee": "m04"})], "wrong_assignee"),
        ([stored("t", ("c1", "c2"), **CLOSED), stored("v", ("c3",))], "extra_from_client"),
    ]
    for tasks, what in cases:
        result = compare_callbacks(expected, tasks, set(), {"s1"}, RANG)
        assert not result.ok and getattr(result, what), what
    open_day = DAY[:2]
    result = compare_callbacks(callback_tasks(open_day, {}), [stored("t", ("c1", "c2"), **CLOSED)], set(), set(), RANG)
    assert result.wrongly_closed == ["c1"], "nothing answered the client: the task must still be open"


def test_what_the_flags_change_is_measured_not_failed() -> None:
    expected = callback_tasks(DAY, {})
    spam_task = stored("s", ("s1",), counterpart=BOB)
    # The first miss flagged: the task opens on the second, and its response time is not the labelled one.
    late = stored("t", ("c2",), **{**CLOSED, "response_s": 20 * 60 + 5 - 30})
    result = compare_callbacks(expected, [late, spam_task], {"c1"}, {"s1"}, RANG)
    assert result.ok and result.extra_from_unflagged == 1 and result.misses_without_task == 1
    # Both misses flagged: the client got no task at all.
    result = compare_callbacks(expected, [], {"c1", "c2"}, {"s1"}, RANG)
    assert result.ok and result.lost_to_flags == 1 and result.misses_without_task == 2
    # The callback was flagged, so the task stays open.
    result = compare_callbacks(expected, [stored("t", ("c1", "c2"))], {"c3"}, {"s1"}, RANG)
    assert result.ok and result.closer_flagged == 1
    # An abandoned first miss rang nobody: whoever the on-duty balance chose is not checked.
    abandoned = (call("a1", 0, "abandoned", callback_task="a1"),)
    result = compare_callbacks(callback_tasks(abandoned, {}), [stored("t", ("a1",), assignee="m09")], set(), set(), {})
    assert result.ok and result.assignee_by_load == 1


def test_precision_and_recall_count_external_calls_by_caller_class() -> None:
    calls = [
        call("w1", 0, "answered", duration_s=8, caller="wrong_number"),
        call("s1", 1, "missed", counterpart=BOB, caller="spam"),
        call("c1", 2, "answered"),
        call("c2", 3, "missed"),
        call("i1", 4, "answered", direction="internal", counterpart=None, caller="colleague"),
    ]
    flagged = {"w1", "c2", "i1"}
    score = score_flags(calls, lambda c: c.call_id in flagged)
    assert (score.true_positive, score.false_positive, score.false_negative, score.true_negative) == (1, 1, 1, 1)
    assert score.precision == 0.5 and score.recall == 0.5
    assert score.recall_of("wrong_number") == 1.0 and score.recall_of("spam") == 0.0
    assert score.false_by_kind == {"client_inbound": 1}
    total = FlagScore()
    total += score
    total += score
    assert (total.true_positive, total.labelled["spam"], total.precision) == (2, 2, 0.5)
    assert FlagScore().precision is None and "n/a" in FlagScore().line()


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


def test_reply_tasks_come_from_the_mail_that_needs_a_reply_and_the_mail_that_answers_it() -> None:
    emails = (
        mail("<a>", 0, "received", "<a>", needs_reply=True),
        mail("<b>", 30, "sent", "<a>", answers="<a>"),
        mail("<c>", 40, "received", "<a>", needs_reply=True),
        mail("<o>", 0, "sent", "<o>"),
        mail("<r>", 1, "auto-reply", "<o>"),
    )
    first, second = reply_tasks(emails)
    assert (first.opened_by, first.closed_by) == (("<a>",), "<b>")
    assert (second.opened_by, second.closed_by) == (("<c>",), None)
    good = [
        StoredTask("1", "done", None, "m01", ("a",), 1, "b", "m01", 60),
        StoredTask("2", "open", None, "m01", ("c",), 1, None, None, None),
    ]
    assert compare_replies((first, second), good).ok
    assert compare_replies((first, second), good[:1]).lost == ["c"]
    assert compare_replies((second,), good).extra == ["a"]
