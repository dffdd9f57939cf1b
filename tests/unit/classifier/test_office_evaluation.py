"""Precision and recall of the wrong-number/spam flag on a labelled simulated office week, with managers answering
the flags they are asked about (90 % of the time, truthfully) and sometimes correcting an unflagged call.

Prints the numbers (`pytest -s tests/unit/classifier/test_office_evaluation.py`); the assertions are floors
well under what the model reaches, so a change that breaks learning or scoring fails here."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import timedelta

from schemas.actions import MarkNumber
from services.classifier.apply_actions import apply_action
from services.classifier.batch_state import Address, Contact
from services.classifier.classify import CallChange, on_call
from services.classifier.match_contacts import contact_id_for
from tests.unit.classifier.factories import POLICY, folded, world_with_managers
from tests.unit.classifier.office_sim import MANAGERS, office_week


@dataclass
class Confusion:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    asked: int = 0
    asked_again: int = 0

    @property
    def precision(self) -> float:
        return self.tp / max(1, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return self.tp / max(1, self.tp + self.fn)


def run_week(seed: int, *, feedback: bool = True) -> Confusion:
    rng = random.Random(seed)
    clients, calls = office_week(seed)
    world = world_with_managers(*MANAGERS)
    for number in clients:
        cid = contact_id_for(number)
        world.contacts[cid] = Contact(cid, "m1", "Known", "Client", created_automatically=False, is_lead=False)
        world.addresses[number] = Address(number, cid, "phone")
    result = Confusion()
    asked_numbers: dict[str, int] = {}
    for call in calls:
        ix, prior, rang = folded(world, call.events)
        on_call(world, CallChange(ix, prior, rang), POLICY)
        flagged = ix.flag in ("pending", "confirmed")
        bad = call.label != "legit"
        result.tp += flagged and bad
        result.fp += flagged and not bad
        result.fn += (not flagged) and bad
        result.tn += (not flagged) and not bad
        if not feedback or ix.counterpart is None or not ix.counterpart.startswith("+"):
            continue
        verdict = "legit" if call.label == "legit" else call.label
        when = (ix.ended_at or ix.started_at) + timedelta(minutes=5)  # type: ignore[operator] # folded calls have times
        if ix.flag == "pending":
            result.asked += 1
            asked_numbers[ix.counterpart] = asked_numbers.get(ix.counterpart, 0) + 1
            result.asked_again += asked_numbers[ix.counterpart] > 1
            if rng.random() < 0.9:
                mark = MarkNumber(
                    event_id=str(uuid.uuid4()),
                    actor_id=call.answering_manager,
                    occurred_at=when,
                    interaction_id=ix.id,
                    verdict=verdict,
                )
                apply_action(world, mark, POLICY)
        elif not flagged and bad and ix.auto_status == "answered" and rng.random() < 0.5:
            # The manager who took an unflagged wrong number marks it after hanging up.
            mark = MarkNumber(
                event_id=str(uuid.uuid4()),
                actor_id=call.answering_manager,
                occurred_at=when,
                interaction_id=ix.id,
                verdict=verdict,
            )
            apply_action(world, mark, POLICY)
    return result


def test_flags_on_a_simulated_office_week_are_precise_and_catch_most_wrong_numbers_and_spam() -> None:
    totals = Confusion()
    for seed in (7, 11, 23):
        week = run_week(seed)
        print(
            f"seed {seed}: precision {week.precision:.3f} recall {week.recall:.3f} "
            f"(tp {week.tp} fp {week.fp} fn {week.fn} tn {week.tn}; asked {week.asked}, "
            f"asked again about the same number {week.asked_again})"
        )
        for field in ("tp", "fp", "fn", "tn", "asked", "asked_again"):
            setattr(totals, field, getattr(totals, field) + getattr(week, field))
    print(f"overall: precision {totals.precision:.3f} recall {totals.recall:.3f}")
    assert totals.precision >= 0.85
    assert totals.recall >= 0.75
    assert totals.asked_again <= totals.asked * 0.15, "a number answered for is rarely asked about again"


def test_managers_answers_are_what_lifts_recall() -> None:
    learning, static = run_week(7), run_week(7, feedback=False)
    print(
        f"without managers' answers: precision {static.precision:.3f} recall {static.recall:.3f}; "
        f"with them: precision {learning.precision:.3f} recall {learning.recall:.3f}"
    )
    assert learning.recall > static.recall + 0.03
    assert learning.precision >= static.precision - 0.02
