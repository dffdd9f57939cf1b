from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.classifier.score_spam import (
    CallFacts,
    NumberStats,
    after_call,
    after_range_call,
    after_verdict,
    close_callers,
    range_of,
    score_call,
)

THRESHOLD, SHORT = 0.7, 10
T0 = datetime(2026, 11, 24, 10, tzinfo=UTC)


def facts(**kw: object) -> CallFacts:
    base: dict[str, object] = {
        "direction": "inbound",
        "status": "answered",
        "talk_s": 120,
        "ring_s": 6,
        "known_contact": False,
        "parseable": True,
        "manager_id": "ann",
    }
    return CallFacts(**{**base, **kw})  # type: ignore[arg-type] # the tests pass the dataclass's own types


def score(f: CallFacts, stats: NumberStats | None = None) -> tuple[float, tuple[str, ...], str | None]:
    s = score_call(f, stats or NumberStats(), THRESHOLD, SHORT)
    return s.value, s.reasons, s.flag


def test_a_named_contact_is_a_real_client() -> None:
    value, reasons, flag = score(facts(known_contact=True, talk_s=3))
    assert (value, flag) == (0.0, None)
    assert reasons == ("a real client: a named contact",)


def test_a_four_second_answered_call_from_a_new_number_is_a_pending_wrong_number() -> None:
    s = score_call(facts(talk_s=4), NumberStats(), THRESHOLD, SHORT)
    assert s.value >= THRESHOLD
    assert s.reasons == ("4 s answered call",)
    assert (s.flag, s.kind) == ("pending", "wrong_number")


def test_wrong_numbers_that_talk_10_to_15_seconds_are_caught() -> None:
    s = score_call(facts(talk_s=13), NumberStats(), THRESHOLD, SHORT)
    assert (s.flag, s.kind) == ("pending", "wrong_number")
    assert s.reasons == ("13 s answered call, a wrong number's length",)
    assert score(facts(talk_s=16))[2] is None


def test_a_long_first_call_from_an_unknown_number_is_a_lead_and_evidence() -> None:
    assert score(facts())[2] is None
    stats = after_call(NumberStats(), facts(talk_s=600), SHORT)
    assert stats.evidence == 1
    assert stats.evidence_reason == "a 10 min conversation"


def test_evidence_of_a_client_outweighs_every_later_signal_until_a_person_says_otherwise() -> None:
    """Issue 11: 'after three calls and one short one, every later call scored 0.77'."""
    stats = NumberStats()
    for call in (facts(talk_s=300), facts(direction="outbound", talk_s=5), facts(status="missed", talk_s=None)):
        stats = after_call(stats, call, SHORT)
    stats = after_call(stats, facts(talk_s=4), SHORT)
    for later in (facts(talk_s=4), facts(status="missed", talk_s=None, ring_s=1), facts(talk_s=1200)):
        value, reasons, flag = score(later, stats)
        assert (value, flag) == (0.0, None)
        assert reasons[0].startswith("a real client: a ")
    assert score(facts(talk_s=4), stats)[1] == ("a real client: a 5 min conversation",)
    marked = after_verdict(after_verdict(stats, "ann", "wrong"), "bob", "wrong")
    assert score(facts(talk_s=4), marked)[2] == "confirmed"


def test_outbound_calls_are_never_flagged_nor_counted_against_the_number() -> None:
    stats = NumberStats(short_calls=3, one_ring=2, marks={"ann": "spam"})
    assert score(facts(direction="outbound", talk_s=3), stats) == (0.0, ("our own call",), None)
    assert after_call(NumberStats(), facts(direction="outbound", talk_s=3), SHORT) == NumberStats()


def test_an_outbound_call_that_connected_is_evidence_but_a_voicemail_greeting_is_not() -> None:
    assert after_call(NumberStats(), facts(direction="outbound", talk_s=45), SHORT).evidence == 1
    assert after_call(NumberStats(), facts(direction="outbound", talk_s=20), SHORT).evidence == 0
    greeting = facts(talk_s=25, answered_by_manager=False)  # our voicemail took an inbound call
    assert after_call(NumberStats(), greeting, SHORT) == NumberStats(calls=1)
    assert score(facts(talk_s=4, answered_by_manager=False))[2] is None


def test_only_signals_are_counted_not_every_call() -> None:
    stats = NumberStats()
    for call in (
        facts(status="missed", talk_s=None, ring_s=20),
        facts(status="missed", talk_s=None, ring_s=None),
        facts(status="missed", talk_s=None, ring_s=1),
        facts(talk_s=5),
    ):
        stats = after_call(stats, call, SHORT)
    assert (stats.calls, stats.one_ring, stats.short_calls, stats.evidence) == (2, 1, 1, 0)
    many_quiet = NumberStats(calls=19)
    assert score(facts(status="missed", talk_s=None, ring_s=20), many_quiet)[2] is None


def test_an_unknown_ring_time_is_not_a_one_ring_hang_up() -> None:
    _, reasons, flag = score(facts(status="missed", talk_s=None, ring_s=None))
    assert flag is None
    assert not any("hung up" in r for r in reasons)


def test_one_ring_callers_are_spam_from_their_second_call() -> None:
    first = score_call(facts(status="missed", talk_s=None, ring_s=1), NumberStats(), THRESHOLD, SHORT)
    assert first.flag is None
    assert first.reasons == ("hung up after 1 s of ringing",)
    stats = after_call(NumberStats(), facts(status="missed", talk_s=None, ring_s=1), SHORT)
    second = score_call(facts(status="missed", talk_s=None, ring_s=2), stats, THRESHOLD, SHORT)
    assert (second.flag, second.kind) == ("pending", "spam")
    assert "1 one-ring call before" in second.reasons


def test_withheld_ids_are_spam() -> None:
    s = score_call(facts(status="missed", talk_s=None, parseable=False), NumberStats(), THRESHOLD, SHORT)
    assert (s.flag, s.kind) == ("pending", "spam")
    assert s.reasons == ("withheld or unparseable caller id",)


def test_a_telemarketer_answered_briefly_by_a_second_manager_is_spam() -> None:
    stats = after_call(NumberStats(), facts(talk_s=30, manager_id="ann"), SHORT)
    assert stats.brief_by == ("ann",)
    assert score(facts(talk_s=30, manager_id="ann"), stats)[2] is None, "the same manager again is no pattern"
    s = score_call(facts(talk_s=30, manager_id="bob"), stats, THRESHOLD, SHORT)
    assert (s.flag, s.kind) == ("pending", "spam")
    assert "answered briefly by 2 managers" in s.reasons


def test_a_run_of_close_numbers_within_the_window_is_spam() -> None:
    assert range_of("+14155550123") == "+141555501"
    recent: tuple[tuple[str, datetime], ...] = ()
    for i, number in enumerate(("+14155550120", "+14155550121", "+14155550121")):
        recent = after_range_call(recent, number, T0 + timedelta(minutes=i))
    assert close_callers(recent, "+14155550122", T0 + timedelta(minutes=5)) == 2
    assert close_callers(recent, "+14155550122", T0 + timedelta(hours=2)) == 0
    s = score_call(facts(status="missed", talk_s=None, close_numbers=2), NumberStats(), THRESHOLD, SHORT)
    assert (s.flag, s.kind) == ("pending", "spam")
    assert s.reasons == ("2 close numbers called within 30 min",)


def test_only_a_strong_score_holds_back_a_missed_calls_callback() -> None:
    weak = score_call(facts(status="missed", talk_s=None, close_numbers=2), NumberStats(), THRESHOLD, SHORT)
    assert weak.flag == "pending" and not weak.strong
    stats = after_call(NumberStats(), facts(status="missed", talk_s=None, ring_s=1), SHORT)
    stats = after_call(stats, facts(status="missed", talk_s=None, ring_s=1), SHORT)
    strong = score_call(facts(status="missed", talk_s=None, ring_s=1), stats, THRESHOLD, SHORT)
    assert strong.strong


def test_managers_marks_are_counted_per_person_and_named() -> None:
    stats = NumberStats()
    for manager in ("ann", "bob", "cid", "ann"):
        stats = after_verdict(stats, manager, "wrong")
    _, reasons, flag = score(facts(talk_s=90), stats)
    assert "3 managers marked this number wrong" in reasons
    assert flag == "confirmed", "a number already judged wrong is not asked about again"


def test_a_correction_is_not_asked_twice() -> None:
    stats = after_call(NumberStats(), facts(talk_s=4), SHORT)
    assert stats.short_calls == 1
    assert score(facts(talk_s=4), stats)[2] == "pending"
    corrected = after_verdict(stats, "ann", "legit")
    _, reasons, flag = score(facts(talk_s=4), corrected)
    assert flag is None
    assert reasons == ("a real client: a manager confirmed this number is fine",)


def test_lists_override_the_score() -> None:
    assert score(facts(known_contact=True), NumberStats(list="block")) == (
        1.0,
        ("number is on the block list",),
        "confirmed",
    )
    assert score(facts(talk_s=2, parseable=False), NumberStats(list="allow"))[2] is None


def test_scores_stay_in_the_unit_interval() -> None:
    worst = NumberStats(calls=99, short_calls=99, one_ring=99, marks={f"m{i}": "spam" for i in range(50)})
    best = NumberStats(marks={f"m{i}": "legit" for i in range(50)})
    assert 0.0 <= score(facts(known_contact=True), best)[0] <= score(facts(talk_s=1), worst)[0] <= 1.0
