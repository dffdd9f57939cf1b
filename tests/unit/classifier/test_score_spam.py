from __future__ import annotations

from services.classifier.score_spam import CallFacts, NumberStats, after_call, after_verdict, score_call

THRESHOLD, SHORT = 0.7, 10


def facts(**kw: object) -> CallFacts:
    base: dict[str, object] = {
        "direction": "inbound",
        "status": "answered",
        "talk_s": 120,
        "ring_s": 6,
        "known_contact": False,
        "parseable": True,
    }
    return CallFacts(**{**base, **kw})  # type: ignore[arg-type] # the tests pass the dataclass's own types


def score(f: CallFacts, stats: NumberStats | None = None) -> tuple[float, tuple[str, ...], str | None]:
    s = score_call(f, stats or NumberStats(), THRESHOLD, SHORT)
    return s.value, s.reasons, s.flag


def test_a_long_call_with_a_known_contact_is_fine() -> None:
    value, reasons, flag = score(facts(known_contact=True))
    assert value < 0.1
    assert reasons == ("known contact",)
    assert flag is None


def test_a_four_second_answered_call_from_an_unknown_number_is_flagged_with_reasons() -> None:
    value, reasons, flag = score(facts(talk_s=4))
    assert value >= THRESHOLD
    assert reasons == ("4 s answered call", "unknown number")
    assert flag == "pending"


def test_a_long_first_call_from_an_unknown_number_is_a_lead_not_a_flag() -> None:
    assert score(facts())[2] is None


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
    assert "1 manager confirmed this number is fine" in reasons


def test_lists_override_the_score() -> None:
    assert score(facts(known_contact=True), NumberStats(list="block")) == (
        1.0,
        ("number is on the block list",),
        "confirmed",
    )
    assert score(facts(talk_s=2, parseable=False), NumberStats(list="allow"))[2] is None


def test_one_ring_hidden_calls_and_repeat_short_calls_raise_the_score() -> None:
    quiet = score(facts(status="missed", talk_s=None, ring_s=12))[0]
    one_ring = score(facts(status="missed", talk_s=None, ring_s=1, parseable=False))
    assert one_ring[0] > quiet
    assert "hung up after 1 s" in one_ring[1]
    assert "hidden or unparseable number" in one_ring[1]
    repeat = NumberStats(calls=4, short_calls=3)
    assert "3 short calls from this number before" in score(facts(), repeat)[1]
    assert "4 earlier calls, never a contact" in score(facts(), repeat)[1]


def test_scores_stay_in_the_unit_interval() -> None:
    worst = NumberStats(calls=99, short_calls=99, marks={f"m{i}": "spam" for i in range(50)})
    best = NumberStats(marks={f"m{i}": "legit" for i in range(50)})
    assert 0.0 <= score(facts(known_contact=True), best)[0] <= score(facts(talk_s=1), worst)[0] <= 1.0
