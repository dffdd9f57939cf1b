"""The wrong-number/spam flag on labelled simulated office weeks, fed through the classifier's real pure steps with
managers answering its questions; `python -m bench.simulator.evaluate_flags` prints the docs' sensitivity table."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Literal

from bench.simulator.compare import CallbackCheck, StoredTask, compare_callbacks
from bench.simulator.generate import DayShape, generate_days
from bench.simulator.model import OfficeDay, SimCall, callback_tasks
from bench.simulator.score import FlagScore
from schemas.actions import MarkNumber, Outcome, SetOutcome
from schemas.events import CallEvent
from services.classifier.apply_actions import apply_action
from services.classifier.batch_state import Address, BatchState, Contact, Interaction, Manager
from services.classifier.classify import CallChange, on_call
from services.classifier.correlate import interaction_id
from services.classifier.fold_events import fold_call_into
from services.classifier.key_ids import UNKEYED_FOR_TESTS as IDS
from services.classifier.policy import BusinessHours, Policy
from services.classifier.suggest_outcome import refresh_suggestion
from services.ingest.calls.generic import GenericCallPayload, normalize_generic

MONDAY = date(2026, 11, 23)
VERDICT: dict[str, Literal["wrong", "spam", "legit"]] = {"wrong_number": "wrong", "spam": "spam", "client": "legit"}

# The office the product is for (issue 11), the mix the scorer's weights were tuned on with TUNING_SEEDS.
OFFICE_SHAPE = DayShape(
    managers=8,
    contacts_per_manager=31,
    client_calls_per_manager=20,
    short_client_call_share=0.1,
    short_new_lead_share=0.03,
    new_leads_per_manager=4,
    unknown_missed_per_manager=1.5,
    wrong_numbers_per_manager=3,
    wrong_number_missed_share=0.2,
    long_wrong_number_share=0.3,
    wrong_number_pool=40,
    wrong_number_repeat_share=0.5,
    spam_callers=10,
    spam_calls_per_caller=(2, 5),
    one_ring_spam_share=0.5,
    telemarketer_share=0.4,
    unfilled_lead_share=0.3,
    lead_return_share=0.3,
    final_only_share=0.3,
    voicemail_answered_share=0.5,
    redial_share=0.2,
    sequential_runs=1,
    withheld_spam_share=0.15,
    email_threads_per_manager=0,
    outbound_emails_per_manager=0,
    bulk_per_manager=0,
)
TUNING_SEEDS = (7, 11, 23)
# Reported, never tuned on: other seeds, and a mix with every hard parameter moved.
HELD_OUT_SEEDS = (101, 202, 303)
HELD_OUT_SHAPE = replace(
    OFFICE_SHAPE,
    managers=6,
    new_leads_per_manager=5,
    short_new_lead_share=0.05,
    wrong_numbers_per_manager=4,
    long_wrong_number_share=0.5,
    spam_callers=8,
    telemarketer_share=0.6,
    unfilled_lead_share=0.5,
    lead_return_share=0.5,
    final_only_share=0.6,
    voicemail_answered_share=0.7,
    redial_share=0.35,
    sequential_runs=2,
    withheld_spam_share=0.3,
)


@dataclass
class Week:
    flags: FlagScore = field(default_factory=FlagScore)
    callbacks: CallbackCheck = field(default_factory=CallbackCheck)
    asked: int = 0
    asked_again: int = 0
    client_misses: int = 0  # real clients' missed inbound calls the labels say need a callback
    client_misses_hidden: int = 0  # of them, linked to no callback task


def known_office(day: OfficeDay) -> tuple[BatchState, Policy]:
    """The classifier's state before the week: the managers, and the client base the CRM already holds."""
    office = day.office
    world = BatchState()
    for m in office.managers:
        world.managers[m.id] = Manager(m.id, m.name, m.email, True, True, (m.extension,))
        world.extensions[m.extension] = m.id
    for c in office.contacts:
        cid = IDS.contact(c.phone)
        first, last = c.name.split(" ", 1)
        world.contacts[cid] = Contact(cid, c.owner, first, last, created_automatically=False, is_lead=False)
        world.addresses[c.phone] = Address(c.phone, cid, "phone")
    hours = BusinessHours.parse("mon-fri 09:00-18:00", office.timezone)
    return world, Policy(own_numbers=frozenset(office.own_numbers), hours=hours)


def events_of(call: SimCall) -> list[CallEvent]:
    """What ingest makes of the call's webhooks."""
    return [
        normalize_generic(GenericCallPayload.model_validate(s.payload), s.at + timedelta(seconds=1), "US")
        for s in call.steps
    ]


def _fold(state: BatchState, events: list[CallEvent]) -> CallChange:
    e = events[0]
    iid = interaction_id(e.source, e.call_id)
    ix = state.interactions.setdefault(iid, Interaction(iid, "call", e.source, e.call_id, e.direction, version=1))
    return fold_call_into(ix, events)


def run_week(
    seed: int, shape: DayShape = OFFICE_SHAPE, *, feedback: bool = True, days: int = 5, outcomes: float = 0.0
) -> Week:
    """`outcomes`: the share of real clients' unflagged calls whose manager confirms an outcome: the suggested
    "connected" on an answered call (no evidence: a guess accepted), "call back later" on a missed one (evidence)."""
    rng = random.Random(seed)
    clicks = random.Random(seed + 1)  # its own draws: the other answers stay the same whatever the share
    office_days = generate_days(seed, MONDAY, days, shape)
    world, policy = known_office(office_days[0])
    week = Week()
    asked_numbers: dict[str, int] = {}
    flagged: set[str] = set()
    for day in office_days:
        for call in sorted(day.calls, key=lambda c: (c.decided_at, c.call_id)):
            change = _fold(world, events_of(call))
            ix = change.interaction
            on_call(world, change, policy)
            refresh_suggestion(ix)  # what the manager's queue shows, as the classifier stores it after each batch
            if ix.flag in ("pending", "confirmed"):
                flagged.add(call.call_id)
            week.flags.add(call, call.call_id in flagged)
            if call.fills_lead and ix.contact_id in world.contacts:
                lead = world.contacts[ix.contact_id]
                lead.first_name, lead.last_name = "Filled", "In"  # the manager typed the lead's name
            if not feedback or call.counterpart is None or call.caller == "colleague" or call.withheld:
                continue
            mark = MarkNumber(
                event_id=str(uuid.UUID(int=rng.getrandbits(128))),
                actor_id=call.manager_id or "m00",
                occurred_at=call.ended_at + timedelta(minutes=5),
                interaction_id=ix.id,
                verdict=VERDICT[call.caller],
            )
            if call.caller == "client" and ix.flag is None and clicks.random() < outcomes:
                outcome: Outcome = "connected" if call.status == "answered" else "call_back_later"
                confirm = SetOutcome(
                    event_id=mark.event_id,
                    actor_id=mark.actor_id,
                    occurred_at=mark.occurred_at,
                    interaction_id=ix.id,
                    outcome=outcome,
                )
                apply_action(world, confirm, policy)
            if ix.flag == "pending":
                week.asked += 1
                asked_numbers[call.counterpart] = asked_numbers.get(call.counterpart, 0) + 1
                week.asked_again += asked_numbers[call.counterpart] > 1
                if rng.random() < 0.9:
                    apply_action(world, mark, policy)
            elif call.unwanted and call.call_id not in flagged and call.status == "answered" and rng.random() < 0.5:
                apply_action(world, mark, policy)  # who took an unflagged wrong number marks it after hanging up
    calls = tuple(c for day in office_days for c in day.calls)
    with_task = {iid for task_id, iid in world.task_links if world.tasks[task_id].kind == "callback"}
    for call in calls:
        if call.opens_task and call.caller == "client":
            week.client_misses += 1
            week.client_misses_hidden += interaction_id("generic", call.call_id) not in with_task
    if not feedback:  # a verdict can open a task late (a cleared flag), which the labels do not time
        week.callbacks = callbacks_of(world, office_days, flagged)
    return week


def callbacks_of(world: BatchState, days: tuple[OfficeDay, ...], flagged: set[str]) -> CallbackCheck:
    """The week's callback tasks in the classifier's state, compared with the labels like the stored ones."""
    calls = tuple(c for day in days for c in day.calls)
    call_of = {interaction_id("generic", c.call_id): c.call_id for c in calls}
    linked: dict[uuid.UUID, list[str]] = {}
    for task_id, iid in sorted(world.task_links, key=lambda link: call_of.get(link[1], "")):
        if iid in call_of:
            linked.setdefault(task_id, []).append(call_of[iid])
    stored = []
    for task_id, call_ids in linked.items():
        task = world.tasks[task_id]
        if task.kind != "callback":
            continue
        closer = task.closed_by_interaction_id
        stored.append(
            StoredTask(
                id=str(task.id),
                status=task.status,
                counterpart=task.address,
                assignee=task.assignee_id,
                linked=tuple(call_ids),
                attempts=task.attempts,
                closed_by=call_of.get(closer) if closer else None,
                closed_by_manager=task.closed_by_manager_id,
                response_s=task.response_s,
            )
        )
    expected = callback_tasks(calls, owners={c.id: c.owner for c in days[0].office.contacts})
    unwanted = {c.call_id for c in calls if c.unwanted}
    return compare_callbacks(expected, stored, flagged, unwanted, {c.call_id: c.rang for c in calls})


@dataclass
class Totals:
    flags: FlagScore = field(default_factory=FlagScore)
    client_misses: int = 0
    client_misses_hidden: int = 0

    def add(self, week: Week) -> None:
        self.flags += week.flags
        self.client_misses += week.client_misses
        self.client_misses_hidden += week.client_misses_hidden

    @property
    def hidden_share(self) -> float:
        return self.client_misses_hidden / self.client_misses if self.client_misses else 0.0

    def row(self, label: str) -> str:
        f = self.flags

        def fmt(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.3f}"

        return (
            f"| {label} | {fmt(f.precision)} | {fmt(f.recall)} | {fmt(f.recall_of('wrong_number'))} | "
            f"{fmt(f.recall_of('spam'))} | {f.false_positive} | "
            f"{self.client_misses_hidden}/{self.client_misses} ({self.hidden_share:.1%}) |"
        )


def evaluate(shape: DayShape, seeds: tuple[int, ...], outcomes: float = 0.0) -> Totals:
    totals = Totals()
    for seed in seeds:
        totals.add(run_week(seed, shape, outcomes=outcomes))
    return totals


HEADER = (
    "| configuration | precision | recall | recall wrong number | recall spam | clients' calls flagged "
    "| clients' misses without a callback task |\n|---|---|---|---|---|---|---|"
)
SENSITIVITY: tuple[tuple[str, dict[str, float | int]], ...] = (
    ("first-time callers hanging up within 9 s 0.0", {"short_new_lead_share": 0.0}),
    ("first-time callers hanging up within 9 s 0.1", {"short_new_lead_share": 0.1}),
    ("unfilled leads 0.0", {"unfilled_lead_share": 0.0}),
    ("unfilled leads 0.7", {"unfilled_lead_share": 0.7}),
    ("final-only PBX 0.0", {"final_only_share": 0.0}),
    ("final-only PBX 1.0", {"final_only_share": 1.0}),
    ("voicemail reported answered 0.0", {"voicemail_answered_share": 0.0}),
    ("voicemail reported answered 1.0", {"voicemail_answered_share": 1.0}),
    ("leads returning 0.0", {"lead_return_share": 0.0}),
    ("leads returning 0.8", {"lead_return_share": 0.8}),
    ("redials 0.6", {"redial_share": 0.6}),
    ("wrong numbers 10-15 s 0.8", {"long_wrong_number_share": 0.8}),
    ("telemarketers 0.9", {"telemarketer_share": 0.9}),
    ("sequential runs 0", {"sequential_runs": 0}),
    ("sequential runs 4", {"sequential_runs": 4}),
    ("withheld spam 0.0", {"withheld_spam_share": 0.0}),
    ("withheld spam 0.6", {"withheld_spam_share": 0.6}),
)

OUTCOME_SHARES = (0.7,)


def main() -> None:
    print(HEADER)
    print(evaluate(OFFICE_SHAPE, TUNING_SEEDS).row(f"tuning mix, tuning seeds {TUNING_SEEDS}"))
    print(evaluate(OFFICE_SHAPE, HELD_OUT_SEEDS).row(f"tuning mix, held-out seeds {HELD_OUT_SEEDS}"))
    print(evaluate(HELD_OUT_SHAPE, HELD_OUT_SEEDS).row(f"**held-out mix, held-out seeds {HELD_OUT_SEEDS}**"))
    for label, change in SENSITIVITY:
        shape = replace(OFFICE_SHAPE, **change)  # type: ignore[arg-type] # the names above are DayShape fields
        print(evaluate(shape, HELD_OUT_SEEDS).row(f"held-out seeds, {label}"))
    for share in OUTCOME_SHARES:
        row = f"held-out mix, held-out seeds, managers confirming clients' outcomes {share}"
        print(evaluate(HELD_OUT_SHAPE, HELD_OUT_SEEDS, share).row(row))


if __name__ == "__main__":
    main()
