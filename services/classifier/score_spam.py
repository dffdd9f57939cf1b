"""Wrong-number and spam scoring of calls (pure): evidence of a real client first, then one logistic score of
readable signals per flag kind, lists and managers' verdicts on top (docs/wrong-numbers.md)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from schemas.events import CallStatus, Direction
from schemas.records import FlagKind, FlagState

Verdict = Literal["wrong", "spam", "legit"]
ListState = Literal["block", "allow"]

BIAS = -2.2
# Spam signals.
W_WITHHELD = 3.4
W_ONE_RING = 1.2
W_REPEAT_ONE_RING = 2.6
W_RANGE = 3.4
W_TELEMARKETER = 3.4
# Wrong-number signals: an inbound call a manager took and ended within seconds.
W_SHORT_ANSWERED = 3.2
W_WRONG_LENGTH = 3.2
W_REPEAT_SHORT = 1.4
W_MARKED_BAD = 3.2
MAX_REPEAT_COUNT = 3

ONE_RING_S = 4  # rang less than this and hung up
WRONG_NUMBER_MAX_S = 16  # "sorry, wrong number" takes up to 15 s
BRIEF_MIN_S, BRIEF_MAX_S = 8, 45  # a telemarketer's pitch before the manager hangs up
REAL_INBOUND_S = 60  # an inbound conversation this long is a real one
REAL_OUTBOUND_S = 30  # our call connected and talked this long (past a voicemail greeting or "wrong number")
STRONG = 0.85  # above this a missed call loses its callback task; below, it keeps it, marked "possibly"
RANGE_WINDOW = timedelta(minutes=30)
RANGE_MIN_NUMBERS = 3  # this many close numbers (same number but the last two digits) within the window
RANGE_KEEP = 20


@dataclass(frozen=True, slots=True)
class NumberStats:
    """What we know about one number: its list, each manager's verdict, the evidence that a real client uses it,
    and only the calls that point to a wrong number or spam (never a count of all calls)."""

    list: ListState | None = None
    calls: int = 0  # inbound calls that carried no evidence either way (kept for the analysts, not scored)
    short_calls: int = 0  # inbound calls a manager answered and ended within WRONG_NUMBER_MAX_S
    marks: Mapping[str, Verdict] = field(default_factory=dict)
    evidence: int = 0  # conversations of real length, either direction
    evidence_reason: str | None = None  # the latest of them, readable
    one_ring: int = 0  # inbound calls that hung up within ONE_RING_S of ringing
    brief_by: tuple[str, ...] = ()  # managers who answered it for BRIEF_MIN_S-BRIEF_MAX_S

    def count(self, *verdicts: Verdict) -> int:
        if not self.marks:  # most numbers: asked for on every call
            return 0
        return sum(1 for v in self.marks.values() if v in verdicts)

    def counted(
        self, *, calls: int = 0, short_calls: int = 0, one_ring: int = 0, brief_by: tuple[str, ...] | None = None
    ) -> NumberStats:
        """These counts added; built directly, as `dataclasses.replace` costs more than the rest of a call's
        scoring (bench/score_cost.py)."""
        return NumberStats(
            self.list,
            self.calls + calls,
            self.short_calls + short_calls,
            self.marks,
            self.evidence,
            self.evidence_reason,
            self.one_ring + one_ring,
            self.brief_by if brief_by is None else brief_by,
        )


@dataclass(frozen=True, slots=True)
class CallFacts:
    direction: Direction
    status: CallStatus
    talk_s: int | None
    ring_s: int | None  # None: the provider did not say (never read as 0)
    known_contact: bool  # a contact a person has named (filled in, met): evidence; an unfilled lead is not
    parseable: bool
    answered_by_manager: bool = True  # False when a voicemail or IVR, not a person, took the call
    manager_id: str | None = None
    close_numbers: int = 0  # other numbers of the same range that called within RANGE_WINDOW


@dataclass(frozen=True, slots=True)
class Score:
    value: float
    reasons: tuple[str, ...]
    flag: FlagState | None
    kind: FlagKind | None = None
    strong: bool = False  # strong enough to hold back a missed call's callback task
    client: bool = False  # the call or its number carries evidence of a real client


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def conversation(facts: CallFacts) -> str | None:
    """The evidence a call itself gives that a real client is on the line, readable; None if it gives none."""
    if facts.status != "answered" or facts.talk_s is None:
        return None
    if facts.direction == "outbound" and facts.talk_s >= REAL_OUTBOUND_S:
        return f"our call connected for {_duration(facts.talk_s)}"
    if facts.direction == "inbound" and facts.answered_by_manager and facts.talk_s >= REAL_INBOUND_S:
        return f"a {_duration(facts.talk_s)} conversation"
    return None


def _duration(seconds: int) -> str:
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"


def _short_answered(facts: CallFacts) -> bool:
    return (
        facts.direction == "inbound"
        and facts.status == "answered"
        and facts.answered_by_manager
        and facts.talk_s is not None
        and facts.talk_s < WRONG_NUMBER_MAX_S
    )


def _one_ring(facts: CallFacts) -> bool:
    return (
        facts.direction == "inbound"
        and facts.status in ("missed", "abandoned")
        and facts.ring_s is not None
        and facts.ring_s < ONE_RING_S
    )


def _brief(facts: CallFacts) -> bool:
    return (
        facts.direction == "inbound"
        and facts.status == "answered"
        and facts.answered_by_manager
        and facts.talk_s is not None
        and BRIEF_MIN_S <= facts.talk_s <= BRIEF_MAX_S
    )


def spam_features(facts: CallFacts, stats: NumberStats) -> list[tuple[float, str]]:
    found: list[tuple[float, str]] = []
    if not facts.parseable:
        found.append((W_WITHHELD, "withheld or unparseable caller id"))
    if _one_ring(facts):
        found.append((W_ONE_RING, f"hung up after {facts.ring_s} s of ringing"))
        if stats.one_ring:
            found.append(
                (W_REPEAT_ONE_RING * min(stats.one_ring, 2), f"{_plural(stats.one_ring, 'one-ring call')} before")
            )
    if facts.close_numbers + 1 >= RANGE_MIN_NUMBERS:
        found.append((W_RANGE, f"{facts.close_numbers} close numbers called within {RANGE_WINDOW.seconds // 60} min"))
    if _brief(facts) and (others := set(stats.brief_by) - {facts.manager_id}):
        found.append((W_TELEMARKETER, f"answered briefly by {_plural(len(others) + 1, 'manager')}"))
    if n := stats.count("spam"):
        found.append((W_MARKED_BAD * n, f"{_plural(n, 'manager')} marked this number spam"))
    return found


def wrong_number_features(facts: CallFacts, stats: NumberStats, short_call_s: int) -> list[tuple[float, str]]:
    found: list[tuple[float, str]] = []
    if _short_answered(facts):
        assert facts.talk_s is not None
        if facts.talk_s < short_call_s:
            found.append((W_SHORT_ANSWERED, f"{facts.talk_s} s answered call"))
        else:
            found.append((W_WRONG_LENGTH, f"{facts.talk_s} s answered call, a wrong number's length"))
    if stats.short_calls:
        found.append(
            (
                W_REPEAT_SHORT * min(stats.short_calls, MAX_REPEAT_COUNT),
                f"{_plural(stats.short_calls, 'short call')} from this number before",
            )
        )
    if n := stats.count("wrong"):
        found.append((W_MARKED_BAD * n, f"{_plural(n, 'manager')} marked this number wrong"))
    return found


def _logistic(found: list[tuple[float, str]]) -> float:
    return round(1.0 / (1.0 + math.exp(-(BIAS + sum(w for w, _ in found)))), 4)


def score_call(facts: CallFacts, stats: NumberStats, threshold: float, short_call_s: int) -> Score:
    if stats.list == "block":
        return Score(1.0, ("number is on the block list",), "confirmed", "spam", strong=True)
    if stats.list == "allow":
        return Score(0.0, ("number is on the allow list",), None)
    if facts.direction != "inbound":
        return Score(0.0, ("our own call",), None)  # we chose to call it: never a wrong number or spam to us
    bad, good = stats.count("wrong", "spam"), stats.count("legit")
    evidence = conversation(facts) or (stats.evidence_reason if stats.evidence else None)
    # Evidence of a real client outweighs every signal; only people's verdicts against it count more.
    if (facts.known_contact or evidence or stats.evidence or good) and bad <= good:
        said = evidence or ("a named contact" if facts.known_contact else "a manager confirmed this number is fine")
        return Score(0.0, (f"a real client: {said}",), None, client=True)
    spam = spam_features(facts, stats)
    wrong = wrong_number_features(facts, stats, short_call_s)
    spam_value, wrong_value = _logistic(spam), _logistic(wrong)
    kind: FlagKind = "spam" if spam_value >= wrong_value else "wrong_number"
    found, value = (spam, spam_value) if kind == "spam" else (wrong, wrong_value)
    flag: FlagState | None = None
    # A question already answered is not asked again: the managers' verdict on the number stands, whichever
    # way it went, until more managers say otherwise.
    if value >= threshold and good <= bad:
        flag = "confirmed" if bad > good else "pending"
    strong = flag == "confirmed" or value >= STRONG
    return Score(value, tuple(reason for _, reason in found), flag, kind if flag else None, strong)


def after_call(stats: NumberStats, facts: CallFacts, short_call_s: int) -> NumberStats:
    """Counts what the call says: evidence of a client, or a signal of a wrong number or spam; nothing else."""
    del short_call_s  # the counted short calls end within WRONG_NUMBER_MAX_S, the flag's own cut-off
    if (said := conversation(facts)) is not None:
        return after_evidence(stats, said)
    if facts.direction != "inbound":
        return stats
    brief_by = stats.brief_by
    if _brief(facts) and facts.manager_id and facts.manager_id not in brief_by:
        brief_by = (*brief_by, facts.manager_id)
    if _short_answered(facts):
        return stats.counted(short_calls=1, brief_by=brief_by)
    if _one_ring(facts):
        return stats.counted(one_ring=1, brief_by=brief_by)
    return stats.counted(calls=1, brief_by=brief_by)


def after_evidence(stats: NumberStats, said: str) -> NumberStats:
    """One more piece of evidence that a real client uses the number; `said` is how a manager reads it."""
    s = stats
    return NumberStats(s.list, s.calls, s.short_calls, s.marks, s.evidence + 1, said, s.one_ring, s.brief_by)


EMAIL_FROM_CLIENT = "an email from them"
REPLY_TO_CLIENT = "our reply to their email"
# A manager's outcome that says the caller is someone to work with ("call back", "fine"), not a wrong number.
CLIENT_OUTCOMES: Mapping[str, str] = {
    "call_back_later": "call back later",
    "connected": "connected",
    "taken_into_work": "taken into work",
    "done": "done",
}


def outcome_evidence(outcome: str, previous: str | None, suggested: str | None) -> str | None:
    """The evidence a manager's outcome on a call gives, readable; None if it gives none or the call already had
    such an outcome (a second click on the same call is not a second piece of evidence). The queue suggests
    "connected" for every answered call nobody flagged and confirms suggestions in bulk: accepting that guess says
    the line connected, not who was on it, so "connected" or "done" counts only when chosen over the suggestion."""
    if outcome not in CLIENT_OUTCOMES or previous in CLIENT_OUTCOMES:
        return None
    if outcome in ("connected", "done") and outcome == suggested:
        return None
    return f'a manager\'s "{CLIENT_OUTCOMES[outcome]}" on a call'


def after_verdict(stats: NumberStats, manager_id: str, verdict: Verdict) -> NumberStats:
    """A manager's latest verdict replaces their earlier one: one person cannot outvote others by repeating."""
    return replace(stats, marks={**stats.marks, manager_id: verdict})


def range_of(number: str) -> str | None:
    """The range a number belongs to for "sequential numbers" (all but its last two digits); None if too short."""
    return number[:-2] if number.startswith("+") and len(number) >= 10 else None


def close_callers(recent: tuple[tuple[str, datetime], ...], number: str, at: datetime) -> int:
    """How many other numbers of the range called within RANGE_WINDOW before `at`."""
    return len({n for n, t in recent if n != number and at - RANGE_WINDOW <= t <= at})


def after_range_call(
    recent: tuple[tuple[str, datetime], ...], number: str, at: datetime
) -> tuple[tuple[str, datetime], ...]:
    kept = [(n, t) for n, t in recent if t >= at - RANGE_WINDOW]
    return tuple(sorted({*kept, (number, at)}, key=lambda nt: (nt[1], nt[0]))[-RANGE_KEEP:])
