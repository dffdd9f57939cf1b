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
