"""The suggested outcome of each automatic status, and the reasons given for it."""

from __future__ import annotations

import pytest

from services.classifier.suggest_outcome import InteractionFacts, suggest_outcome


@pytest.mark.parametrize(
    ("kind", "status", "direction", "expected"),
    [
        ("call", "answered", "inbound", "connected"),
        ("call", "missed", "inbound", "no_answer"),
        ("call", "abandoned", "inbound", "no_answer"),
        ("call", "busy", "outbound", "busy"),
        ("call", "voicemail", "outbound", "left_voicemail"),
        ("call", "failed", "outbound", "no_answer"),
        ("email", "received", "inbound", "done"),
        ("email", "sent", "outbound", "done"),
        ("email", "auto_reply", "inbound", "done"),
        ("email", "bulk", "inbound", "done"),
        ("email", "bounce", "inbound", "wrong_number"),
    ],
)
def test_each_status_suggests_its_outcome_with_a_reason(kind: str, status: str, direction: str, expected: str) -> None:
    suggestion = suggest_outcome(InteractionFacts(kind=kind, auto_status=status, direction=direction))
    assert suggestion is not None
    assert suggestion.outcome == expected
    assert suggestion.reasons
    assert all(reason.strip() for reason in suggestion.reasons)


def test_a_flagged_call_suggests_wrong_number_whatever_its_status_and_says_why() -> None:
    facts = InteractionFacts(
        kind="call", auto_status="missed", direction="inbound", flag="pending", spam_reasons=("3 short calls",)
    )
    suggestion = suggest_outcome(facts)
    assert suggestion is not None
    assert suggestion.outcome == "wrong_number"
    assert suggestion.reasons == ("flagged as a possible wrong number", "3 short calls")


def test_a_cleared_flag_is_an_ordinary_call_again() -> None:
    facts = InteractionFacts(kind="call", auto_status="missed", direction="inbound", flag="cleared")
    suggestion = suggest_outcome(facts)
    assert suggestion is not None
    assert suggestion.outcome == "no_answer"


def test_talk_time_is_in_the_reason_of_an_answered_call() -> None:
    suggestion = suggest_outcome(InteractionFacts(kind="call", auto_status="answered", talk_s=125))
    assert suggestion is not None
    assert suggestion.reasons == ("the call was answered; talked 2 min 05 s",)


@pytest.mark.parametrize(("kind", "status"), [("call", None), ("call", "ringing"), ("email", None), ("fax", "sent")])
def test_nothing_is_suggested_without_a_final_status(kind: str, status: str | None) -> None:
    assert suggest_outcome(InteractionFacts(kind=kind, auto_status=status)) is None
