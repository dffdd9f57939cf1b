"""The fault checker's verdicts, one case per verdict and per way an event can go wrong."""

from __future__ import annotations

from bench.faults.checker import Answer, Content, Published, Sent, Stored, Verdict, check

CALL = Content("call", "missed", "inbound", "+79160000001")


def sent(external_id: str = "c1", answer: Answer = Answer.ACKED, content: Content | None = CALL) -> Sent:
    return Sent("generic", external_id, answer, content, code=202)


def row(external_id: str = "c1", iid: str = "i1", version: int = 1, events: int = 1, content: Content = CALL) -> Stored:
    return Stored(iid, "generic", external_id, version, events, content)


def pub(iid: str = "i1", version: int = 1, status: str = "missed") -> Published:
    return Published(iid, version, status, "inbound")


def verdicts(*args: object, dead: set[str] | None = None) -> list[Verdict]:
    sent_, stored, published = args
    report = check(sent_, stored, published, dead or set())  # type: ignore[arg-type]  # lists of the right rows
    return [f.verdict for f in report.findings]


def test_acknowledged_stored_once_and_published_is_ok() -> None:
    report = check([sent()], [row()], [pub(), pub()], set())
    assert [f.verdict for f in report.findings] == [Verdict.OK]
    assert report.ok and report.redelivered == 1


def test_acknowledged_but_missing_is_lost() -> None:
    assert verdicts([sent()], [], []) == [Verdict.LOST]


def test_stored_but_not_published_is_lost() -> None:
    assert verdicts([sent()], [row()], []) == [Verdict.LOST]
    assert verdicts([sent()], [row(version=2)], [pub()]) == [Verdict.LOST]


def test_two_interactions_or_two_applied_events_are_duplicates() -> None:
    assert verdicts([sent()], [row(), row(iid="i2")], [pub(), pub("i2")]) == [Verdict.DUPLICATED]
    assert verdicts([sent()], [row(events=2)], [pub()]) == [Verdict.DUPLICATED]
    assert verdicts([sent()], [row()], [pub(), pub(version=2)]) == [Verdict.DUPLICATED]


def test_different_content_is_wrong() -> None:
    answered = Content("call", "answered", "inbound", "+79160000001")
    assert verdicts([sent()], [row(content=answered)], [pub(status="answered")]) == [Verdict.WRONG]
    assert verdicts([sent()], [row()], [pub(status="answered")]) == [Verdict.WRONG]


def test_stored_but_never_sent_or_refused_is_unexpected() -> None:
    assert verdicts([], [row()], [pub()]) == [Verdict.UNEXPECTED]
    assert verdicts([sent(answer=Answer.REFUSED)], [row()], [pub()]) == [Verdict.UNEXPECTED]


def test_unacknowledged_may_be_absent_or_present_once() -> None:
    assert verdicts([sent(answer=Answer.UNACKED)], [], []) == [Verdict.NEVER_ACKNOWLEDGED]
    assert verdicts([sent(answer=Answer.UNACKED)], [row()], [pub()]) == [Verdict.NEVER_ACKNOWLEDGED]
    assert verdicts([sent(answer=Answer.UNACKED)], [row(), row(iid="i2")], []) == [Verdict.DUPLICATED]


def test_poison_refused_dead_lettered_or_not() -> None:
    assert verdicts([sent(answer=Answer.REFUSED, content=None)], [], []) == [Verdict.REFUSED]
    assert verdicts([sent(answer=Answer.ACKED, content=None)], [], []) == [Verdict.UNEXPECTED]
    assert verdicts([sent(answer=Answer.REFUSED, content=None)], [row()], [pub()]) == [Verdict.UNEXPECTED]
    produced = sent(answer=Answer.PRODUCED, content=None)
    assert verdicts([produced], [], [], dead={"c1"}) == [Verdict.DEAD_LETTERED]
    assert verdicts([produced], [], []) == [Verdict.LOST]


def test_a_failure_makes_the_report_fail_and_the_line_counts_it() -> None:
    report = check([sent(), sent("c2")], [row()], [pub()], set())
    assert not report.ok
    assert [f.external_id for f in report.failures()] == ["c2"]
    assert "ok 1, lost 1" in report.line()
