"""The fault suite's planned requests: what each source's event must be stored as, and poison marked as such."""

from __future__ import annotations

import pytest

from bench.faults.checker import Answer
from bench.faults.sources import POISONS, SOURCES, answer_of, number, plan_event, plan_poison
from bench.simulator.senders import Delivery


def test_every_event_has_its_own_counterpart_and_id() -> None:
    planned = [plan_event("run", 1, i, SOURCES[i % len(SOURCES)]) for i in range(64)]
    assert len({(p.source, p.external_id) for p in planned}) == 64
    assert len({p.content.counterpart for p in planned if p.content}) == 64
    assert all(number(1, i).startswith("+7916") and len(number(1, i)) == 12 for i in range(5))


@pytest.mark.parametrize("source", SOURCES)
def test_the_expected_content_follows_the_source(source: str) -> None:
    statuses = {p.content.status for i in range(3) if (p := plan_event("run", 1, i, source)).content}
    expected = {
        "twilio": {"missed", "busy"},  # a parent leg's "completed" without an answering leg is missed
        "mango": {"missed", "answered"},  # a summary has no busy
        "smtp": {"received"},
        "mailgun": {"received"},
        "postmark": {"received"},
    }.get(source, {"missed", "busy", "answered"})
    assert statuses == expected


@pytest.mark.parametrize("poison", POISONS)
def test_poison_expects_nothing_stored(poison: str) -> None:
    planned = plan_poison("run", 0, "generic", poison)
    assert planned.content is None and planned.fault == f"poison:{poison}"


def test_answers_a_provider_retries_are_not_refusals() -> None:
    assert answer_of(Delivery(True, 202)) is Answer.ACKED
    assert answer_of(Delivery(False, 503)) is Answer.UNACKED
    assert answer_of(Delivery(False, 451)) is Answer.UNACKED
    assert answer_of(Delivery(False, 0)) is Answer.UNACKED
    assert answer_of(Delivery(False, 422)) is Answer.REFUSED
    assert answer_of(Delivery(False, 552)) is Answer.REFUSED
