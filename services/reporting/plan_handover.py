"""Who gets what when a manager leaves (pure): every contact and loose open task goes to one manager, or is
spread evenly over a team, the least loaded first, so the preview and the hand-over are the same plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Handover:
    contacts: dict[str, str]  # contact id → new manager id
    tasks: dict[str, str]  # task id → new manager id

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for target in [*self.contacts.values(), *self.tasks.values()]:
            out[target] = out.get(target, 0) + 1
        return dict(sorted(out.items()))


def plan_handover(
    contacts: Sequence[str], tasks: Sequence[str], targets: Sequence[str], load: Mapping[str, int] | None = None
) -> Handover:
    """`targets` in a stable order; `load`: what each target already has, so the spread evens it out.
    Raises ValueError without targets."""
    if not targets:
        raise ValueError("no manager to hand over to")
    current = {t: (load or {}).get(t, 0) for t in targets}

    def next_target() -> str:
        target = min(targets, key=lambda t: (current[t], targets.index(t)))
        current[target] += 1
        return target

    return Handover({c: next_target() for c in contacts}, {t: next_target() for t in tasks})
