"""Wrong-number and spam scoring of calls (pure): a logistic score of weighted features with readable reasons,
lists and managers' verdicts on top, and the per-number statistics it learns from (docs/classifier.md)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from schemas.events import CallStatus, Direction
from schemas.records import FlagState

Verdict = Literal["wrong", "spam", "legit"]
ListState = Literal["block", "allow"]

BIAS = -2.0
W_SHORT_ANSWERED = 2.2
W_UNKNOWN = 0.9
W_KNOWN_CONTACT = -2.5
W_HIDDEN = 1.6
W_ONE_RING = 1.4
W_REPEAT_SHORT = 0.8
W_REPEAT_UNKNOWN = 0.5
W_MARKED_BAD = 2.5
W_MARKED_LEGIT = -3.5
ONE_RING_S = 3
MAX_REPEAT_COUNT = 3


@dataclass(frozen=True, slots=True)
class NumberStats:
    """What we know about one number: its list, how many calls and short calls, each manager's verdict."""

    list: ListState | None = None
    calls: int = 0
    short_calls: int = 0
    marks: Mapping[str, Verdict] = field(default_factory=dict)

    def count(self, *verdicts: Verdict) -> int:
        return sum(1 for v in self.marks.values() if v in verdicts)


@dataclass(frozen=True, slots=True)
class CallFacts:
    direction: Direction
    status: CallStatus
    talk_s: int | None
    ring_s: int | None
    known_contact: bool
    parseable: bool


@dataclass(frozen=True, slots=True)
class Score:
    value: float
    reasons: tuple[str, ...]
    flag: FlagState | None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def features(facts: CallFacts, stats: NumberStats, short_call_s: int) -> list[tuple[float, str]]:
    """Each feature that applies, as (weight, reason); the sum of the weights goes into the logistic."""
    found: list[tuple[float, str]] = []
    if facts.status == "answered" and facts.talk_s is not None and facts.talk_s < short_call_s:
        found.append((W_SHORT_ANSWERED, f"{facts.talk_s} s answered call"))
    if not facts.parseable:
        found.append((W_HIDDEN, "hidden or unparseable number"))
    if facts.known_contact:
        found.append((W_KNOWN_CONTACT, "known contact"))
    else:
        found.append((W_UNKNOWN, "unknown number"))
        if stats.calls >= 2:
            found.append(
                (
                    W_REPEAT_UNKNOWN * min(stats.calls, MAX_REPEAT_COUNT),
                    f"{_plural(stats.calls, 'earlier call')}, never a contact",
                )
            )
    one_ring = facts.ring_s is not None and facts.ring_s < ONE_RING_S
    if facts.direction == "inbound" and facts.status in ("missed", "abandoned") and one_ring:
        found.append((W_ONE_RING, f"hung up after {facts.ring_s} s"))
    if stats.short_calls:
        found.append(
            (
                W_REPEAT_SHORT * min(stats.short_calls, MAX_REPEAT_COUNT),
                f"{_plural(stats.short_calls, 'short call')} from this number before",
            )
        )
    for verdict, weight, says in (
        ("wrong", W_MARKED_BAD, "marked this number wrong"),
        ("spam", W_MARKED_BAD, "marked this number spam"),
        ("legit", W_MARKED_LEGIT, "confirmed this number is fine"),
    ):
        if n := stats.count(verdict):  # type: ignore[arg-type] # the literal tuple above holds verdicts
            found.append((weight * n, f"{_plural(n, 'manager')} {says}"))
    return found


def score_call(facts: CallFacts, stats: NumberStats, threshold: float, short_call_s: int) -> Score:
    if stats.list == "block":
        return Score(1.0, ("number is on the block list",), "confirmed")
    if stats.list == "allow":
        return Score(0.0, ("number is on the allow list",), None)
    found = features(facts, stats, short_call_s)
    z = BIAS + sum(weight for weight, _ in found)
    value = round(1.0 / (1.0 + math.exp(-z)), 4)
    flag: FlagState | None = None
    bad, good = stats.count("wrong", "spam"), stats.count("legit")
    # A question already answered is not asked again: the managers' verdict on the number stands, whichever
    # way it went, until more managers say otherwise.
    if value >= threshold and good <= bad:
        flag = "confirmed" if bad > good else "pending"
    return Score(value, tuple(reason for _, reason in found), flag)


def after_call(stats: NumberStats, facts: CallFacts, short_call_s: int) -> NumberStats:
    short = facts.status == "answered" and facts.talk_s is not None and facts.talk_s < short_call_s
    return replace(stats, calls=stats.calls + 1, short_calls=stats.short_calls + (1 if short else 0))


def after_verdict(stats: NumberStats, manager_id: str, verdict: Verdict) -> NumberStats:
    """A manager's latest verdict replaces their earlier one: one person cannot outvote others by repeating."""
    return replace(stats, marks={**stats.marks, manager_id: verdict})
