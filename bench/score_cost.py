"""The wrong-number/spam scorer's cost per call (pure, one process): simulated office weeks replayed through the
classifier's `on_call`, then the scorer's own steps alone on the inputs it saw; `python -m bench.score_cost`.

`--against REV` also times the scorer of a git revision (`score_spam.py` as it was there) on the same inputs, e.g.
`--against 2b0b3f6^` for the one before issue 11. Numbers of the range signal exist only in the new scorer."""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import os
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from unittest import mock

from bench.simulator.evaluate_flags import HELD_OUT_SEEDS, HELD_OUT_SHAPE, MONDAY, events_of, known_office
from bench.simulator.generate import generate_days
from schemas.events import CallEvent
from services.classifier import classify, score_spam
from services.classifier.batch_state import BatchState, Interaction
from services.classifier.correlate import interaction_id
from services.classifier.fold_events import fold_call_into
from services.classifier.policy import Policy

Week = tuple[BatchState, Policy, list[list[CallEvent]]]


@dataclass(frozen=True, slots=True)
class Seen:
    """What the scorer was given for one call, in order."""

    scored: list[tuple[score_spam.CallFacts, score_spam.NumberStats]]
    windows: list[tuple[tuple[tuple[str, datetime], ...], str, datetime]]


def weeks(seeds: tuple[int, ...], days: int) -> list[Week]:
    out = []
    for seed in seeds:
        office_days = generate_days(seed, MONDAY, days, HELD_OUT_SHAPE)
        world, policy = known_office(office_days[0])
        calls = sorted((c for d in office_days for c in d.calls), key=lambda c: (c.decided_at, c.call_id))
        out.append((world, policy, [events_of(c) for c in calls]))
    return out


def replay(week: Week) -> tuple[float, int]:
    """CPU seconds of fold + `on_call` over the week's calls, from the office as it was before the week."""
    world, policy, calls = week
    state = copy.deepcopy(world)
    start = time.process_time()
    for events in calls:
        e = events[0]
        iid = interaction_id(e.source, e.call_id)
        ix = state.interactions.setdefault(iid, Interaction(iid, "call", e.source, e.call_id, e.direction, version=1))
        classify.on_call(state, fold_call_into(ix, events), policy)
    return time.process_time() - start, len(calls)


def record(week: Week) -> Seen:
    """The scorer's inputs during one replay (the functions `on_call` calls, watched for the run)."""
    with (
        mock.patch.object(classify, "score_call", wraps=score_spam.score_call) as scored,
        mock.patch.object(classify, "close_callers", wraps=score_spam.close_callers) as windows,
    ):
        replay(week)
    return Seen([c.args[:2] for c in scored.call_args_list], [c.args for c in windows.call_args_list])


def scorer_seconds(module: types.ModuleType, seen: Seen, policy: Policy) -> float:
    """CPU seconds of the module's scoring steps over what the scorer saw: score, count the call, and (when the
    module has them) the close-number window. Facts and statistics are rebuilt for the module's own types."""
    facts_fields = {f.name for f in dataclasses.fields(module.CallFacts)}
    stats_fields = {f.name for f in dataclasses.fields(module.NumberStats)}

    def facts_of(f: object) -> object:
        return module.CallFacts(**{k: getattr(f, k) for k in facts_fields})

    def stats_of(s: object) -> object:
        return module.NumberStats(**{k: getattr(s, k) for k in stats_fields})

    pairs = [(facts_of(f), stats_of(s)) for f, s in seen.scored]
    threshold, short = policy.spam_threshold, policy.short_call_s
    score, after = module.score_call, module.after_call
    close: Callable[..., int] | None = getattr(module, "close_callers", None)
    after_range: Callable[..., object] | None = getattr(module, "after_range_call", None)
    gc.disable()
    try:
        start = time.process_time()
        for facts, stats in pairs:
            score(facts, stats, threshold, short)
            after(stats, facts, short)
        if close is not None and after_range is not None:
            for recent, number, at in seen.windows:
                close(recent, number, at)
                after_range(recent, number, at)
        return time.process_time() - start
    finally:
        gc.enable()


def module_at(rev: str) -> types.ModuleType:
    source = subprocess.run(
        ["git", "show", f"{rev}:services/classifier/score_spam.py"], check=True, capture_output=True, text=True
    ).stdout
    module = types.ModuleType(f"score_spam_at_{rev}")
    sys.modules[module.__name__] = module  # dataclasses look their module up while building the classes
    exec(compile(source, f"{rev}:score_spam.py", "exec"), module.__dict__)  # noqa: S102 - our own file at a revision
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.score_cost", description=__doc__)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds; the median is reported")
    parser.add_argument("--against", help="also time score_spam.py at this git revision")
    args = parser.parse_args(argv)
    data = weeks(HELD_OUT_SEEDS, args.days)
    calls = sum(len(c) for _, _, c in data)
    events = sum(len(e) for _, _, c in data for e in c)
    seen = [record(w) for w in data]
    scored = sum(len(s.scored) for s in seen)
    print(f"load average {os.getloadavg()[0]:.2f}; {calls} calls ({events} events, {scored} scored), held-out mix")

    def median_us(run: Callable[[], float]) -> float:
        return statistics.median(run() for _ in range(args.rounds)) * 1e6

    on_call = median_us(lambda: sum(replay(w)[0] for w in data)) / calls
    print(f"fold + on_call: {on_call:.1f} µs CPU per call ({on_call * calls / events:.1f} per event)")
    modules = [("this scorer", score_spam)]
    if args.against:
        modules.append((f"scorer at {args.against}", module_at(args.against)))
    for label, module in modules:

        def run(m: types.ModuleType = module) -> float:
            return sum(scorer_seconds(m, s, w[1]) for s, w in zip(seen, data, strict=True))

        total = median_us(run)
        print(f"{label}: {total / calls:.2f} µs CPU per call ({100 * total / calls / on_call:.0f} % of on_call)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
