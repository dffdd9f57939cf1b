"""Precision and recall of the wrong-number/spam flag against the callers' labels: the one scorer the unit
evaluation, the integration test, `make demo` and the benchmarks report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bench.simulator.model import SimCall

Flagged = Callable[[SimCall], bool]


@dataclass
class FlagScore:
    """Flags against the labels over external calls (a colleague's call is never scored). Counts per caller class
    (wrong number and spam apart), and false flags per call kind, say where the flag goes wrong."""

    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    true_negative: int = 0
    labelled: Counter[str] = field(default_factory=Counter)  # unwanted calls per caller class
    caught: Counter[str] = field(default_factory=Counter)  # of them, flagged
    false_by_kind: Counter[str] = field(default_factory=Counter)  # clients' calls flagged, per call kind

    def add(self, call: SimCall, flagged: bool) -> None:
        if call.counterpart is None or call.caller == "colleague":
            return
        if call.unwanted:
            self.labelled[call.caller] += 1
            self.caught[call.caller] += flagged
            self.true_positive += flagged
            self.false_negative += not flagged
        elif flagged:
            self.false_positive += 1
            self.false_by_kind[call.kind] += 1
        else:
            self.true_negative += 1

    def __iadd__(self, other: FlagScore) -> FlagScore:
        self.true_positive += other.true_positive
        self.false_positive += other.false_positive
        self.false_negative += other.false_negative
        self.true_negative += other.true_negative
        self.labelled += other.labelled
        self.caught += other.caught
        self.false_by_kind += other.false_by_kind
        return self

    @property
    def precision(self) -> float | None:
        flagged = self.true_positive + self.false_positive
        return self.true_positive / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        labelled = self.true_positive + self.false_negative
        return self.true_positive / labelled if labelled else None

    def recall_of(self, caller: str) -> float | None:
        return self.caught[caller] / self.labelled[caller] if self.labelled[caller] else None

    def line(self) -> str:
        def fmt(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.3f}"

        by_class = ", ".join(f"{c.replace('_', ' ')} {self.caught[c]}/{n}" for c, n in sorted(self.labelled.items()))
        false = ", ".join(f"{k} {v}" for k, v in sorted(self.false_by_kind.items())) or "none"
        return (
            f"wrong-number/spam flags: precision {fmt(self.precision)} "
            f"({self.true_positive} of {self.true_positive + self.false_positive} flagged calls), recall "
            f"{fmt(self.recall)} ({by_class or 'none'} flagged); clients' calls flagged: {false}"
        )


def score_flags(calls: Iterable[SimCall], flagged: Flagged) -> FlagScore:
    score = FlagScore()
    for call in calls:
        score.add(call, flagged(call))
    return score
