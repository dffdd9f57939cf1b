from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from schemas.events import CallEvent, CallPhase, CallStatus, PhoneAddress
from services.classifier.correlate import fold_call, interaction_id

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def event(
    phase: CallPhase, seconds: int, status: CallStatus | None = None, agent: str | None = None, leg: str | None = None
) -> CallEvent:
    return CallEvent(
        event_id=f"e-{phase}-{seconds}-{leg}",
        source="generic",
        call_id="c1",
        leg_id=leg,
        phase=phase,
        status=status,
        direction="inbound",
        counterpart=PhoneAddress(raw="+14155550123", e164="+14155550123"),
        our_number=PhoneAddress(raw="+14155550100", e164="+14155550100"),
        agent=agent,
        occurred_at=T0 + timedelta(seconds=seconds),
        received_at=T0 + timedelta(seconds=seconds + 1),
    )


ANSWERED_CALL = [
    event("initiated", 0),
    event("ringing", 1),
    event("answered", 5, agent="101"),
    event("ended", 65, status="answered"),
]


def test_a_full_answered_call() -> None:
    state = fold_call(ANSWERED_CALL)
    assert state.phase == "ended"
    assert state.auto_status == "answered"
    assert state.answered_at == T0 + timedelta(seconds=5)
    assert state.ended_at == T0 + timedelta(seconds=65)
    assert state.started_at == T0
    assert state.agent == "101"
    assert state.counterpart == "+14155550123"


def test_a_late_ringing_never_undoes_ended() -> None:
    assert fold_call([*ANSWERED_CALL, event("ringing", 2)]) == fold_call(ANSWERED_CALL)


def test_ended_without_status_is_missed_unless_someone_answered() -> None:
    assert fold_call([event("ringing", 0), event("ended", 20)]).auto_status == "missed"
    assert fold_call([event("answered", 3), event("ended", 20)]).auto_status == "answered"


def test_legs_that_disagree_resolve_to_the_most_successful_status() -> None:
    legs = [event("ended", 20, status="missed", leg="a"), event("ended", 21, status="answered", leg="b")]
    assert fold_call(legs).auto_status == "answered"


def test_interaction_id_is_stable_per_call() -> None:
    assert interaction_id("generic", "c1") == interaction_id("generic", "c1")
    assert interaction_id("generic", "c1") != interaction_id("twilio", "c1")


@given(st.permutations(ANSWERED_CALL), st.lists(st.sampled_from(ANSWERED_CALL), max_size=6))
def test_any_order_and_duplication_gives_the_same_state(order: list[CallEvent], dupes: list[CallEvent]) -> None:
    assert fold_call([*order, *dupes]) == fold_call(ANSWERED_CALL)


def test_hung_up_before_any_agent_rang_is_abandoned_and_after_ringing_is_missed() -> None:
    ivr = [event("initiated", 0), event("ended", 12)]
    assert fold_call(ivr).auto_status == "abandoned"
    assert fold_call([*ivr, event("ringing", 3, agent="101")]).auto_status == "missed"
    assert fold_call([event("ended", 12)]).auto_status == "missed", "a lone final event says nothing of the IVR"


def test_a_providers_own_status_wins_for_voicemail_busy_and_failed() -> None:
    for status in ("voicemail", "busy", "failed"):
        assert fold_call([event("initiated", 0), event("ended", 9, status=status)]).auto_status == status


def test_the_agents_who_rang_are_kept_in_ring_order() -> None:
    legs = [
        event("initiated", 0),
        event("ringing", 1, agent="101", leg="a"),
        event("ringing", 8, agent="102", leg="b"),
        event("ringing", 9, agent="101", leg="c"),
        event("ended", 30),
    ]
    assert fold_call(legs).rang == ("101", "102")


LEGGED_CALLS = [
    # a queue call: two agents ring, the second answers on its own leg
    [
        event("initiated", 0),
        event("ringing", 1, agent="101", leg="a"),
        event("ended", 15, status="missed", agent="101", leg="a"),
        event("ringing", 16, agent="102", leg="b"),
        event("answered", 18, agent="102", leg="b"),
        event("recording", 80, leg="b"),
        event("ended", 75, status="answered", agent="102", leg="b"),
    ],
    # abandoned in the IVR
    [event("initiated", 0), event("ended", 7)],
    # voicemail after ringing
    [event("initiated", 0), event("ringing", 1, agent="101"), event("ended", 40, status="voicemail")],
]


@given(
    st.sampled_from(LEGGED_CALLS).flatmap(
        lambda c: st.tuples(st.just(c), st.permutations(c), st.lists(st.sampled_from(c), max_size=8))
    )
)
def test_any_order_and_duplication_of_any_calls_legs_gives_the_same_state(
    case: tuple[list[CallEvent], list[CallEvent], list[CallEvent]],
) -> None:
    call, order, dupes = case
    assert fold_call([*order, *dupes]) == fold_call(call)


def test_a_queue_call_answered_on_a_second_leg_is_answered_by_that_agent() -> None:
    state = fold_call(LEGGED_CALLS[0])
    assert state.auto_status == "answered"
    assert state.agent == "102"
    assert state.rang == ("101", "102")
