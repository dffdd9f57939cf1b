"""A small labelled simulated office (pure Python, seeded): a week of calls with ground truth, for measuring the
wrong-number/spam decisions. The full office-day simulator through the real ingest routes lives elsewhere; this
one drives the classifier's pure steps directly, managers' feedback included.

Who calls: known clients (mostly long answered calls, some quick legitimate ones, some misses), new clients
(unknown numbers, mostly real conversations), wrong numbers (unknown numbers, a few seconds, some call again)
and spammers (a few numbers calling often: one-ring misses, short robocalls, some with hidden numbers)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from schemas.events import CallEvent, Direction
from tests.unit.classifier.factories import answered, call_event

Label = Literal["legit", "wrong", "spam"]
MANAGERS = [(f"m{i}", str(100 + i), i % 2 == 0) for i in range(1, 9)]


@dataclass(frozen=True, slots=True)
class SimCall:
    events: list[CallEvent]
    label: Label
    number: str | None
    answering_manager: str


def _number(rng: random.Random, used: set[str]) -> str:
    while True:
        n = f"+1415{rng.randrange(2_000_000, 9_999_999)}"
        if n not in used:
            used.add(n)
            return n


def office_week(seed: int = 7, days: int = 5, calls_per_day: int = 300) -> tuple[list[str], list[SimCall]]:
    """Returns the known clients' numbers and the week's calls in time order."""
    rng = random.Random(seed)
    used: set[str] = set()
    clients = [_number(rng, used) for _ in range(250)]
    wrong_pool = [_number(rng, used) for _ in range(60)]
    spam_pool = [_number(rng, used) for _ in range(12)]
    calls: list[SimCall] = []
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    for day in range(days):
        for n in range(calls_per_day):
            at = start + timedelta(days=day, seconds=n * (9 * 3600 // calls_per_day))
            calls.append(_one_call(rng, f"d{day}c{n}", at, clients, wrong_pool, spam_pool, used))
    return clients, calls


def _one_call(
    rng: random.Random,
    call_id: str,
    at: datetime,
    clients: list[str],
    wrong_pool: list[str],
    spam_pool: list[str],
    used: set[str],
) -> SimCall:
    manager, ext, _ = rng.choice(MANAGERS)
    kind = rng.random()
    if kind < 0.55:
        number: str | None = rng.choice(clients)
        label: Label = "legit"
        talk = rng.randint(3, 9) if rng.random() < 0.1 else rng.randint(20, 600)
        outcome = "missed" if rng.random() < 0.2 else "answered"
        direction: Direction = "outbound" if rng.random() < 0.15 else "inbound"
    elif kind < 0.75:
        number, label = _number(rng, used), "legit"
        talk = rng.randint(5, 9) if rng.random() < 0.08 else rng.randint(30, 900)
        outcome, direction = ("missed" if rng.random() < 0.2 else "answered"), "inbound"
    elif kind < 0.87:
        number, label = rng.choice(wrong_pool), "wrong"
        talk = rng.randint(2, 9) if rng.random() < 0.85 else rng.randint(10, 25)
        outcome, direction = ("missed" if rng.random() < 0.2 else "answered"), "inbound"
    else:
        label = "spam"
        number = None if rng.random() < 0.15 else rng.choice(spam_pool)
        roll = rng.random()
        outcome, talk = ("one_ring", 0) if roll < 0.5 else ("answered", rng.randint(2, 6) if roll < 0.85 else 25)
        direction = "inbound"
    counterpart = number if number is not None else "anonymous"
    if outcome == "answered":
        events = answered(call_id, talk=talk, agent=ext, counterpart=counterpart, direction=direction, t0=at)
    else:
        ring = rng.randint(1, 2) if outcome == "one_ring" else rng.randint(8, 30)
        events = [
            call_event(call_id, "initiated", 0, counterpart=counterpart, direction=direction, t0=at),
            call_event(call_id, "ringing", 0.5, agent=ext, counterpart=counterpart, direction=direction, t0=at),
            call_event(call_id, "ended", ring, counterpart=counterpart, direction=direction, t0=at),
        ]
    return SimCall(events, label, number, manager)


def shuffled_legs(rng: random.Random, calls: list[SimCall]) -> Iterator[CallEvent]:
    """Every event of every call, each call's events shuffled and some duplicated (as webhooks arrive)."""
    for call in calls:
        events = list(call.events)
        events += rng.sample(events, k=rng.randint(0, len(events)))
        rng.shuffle(events)
        yield from events
