"""The follow-up tasks a day's calls and mail should leave behind (pure), by the classifier's documented rules
(docs/classifier.md, "Follow-up tasks"), and how well flags match the wrong-number/spam labels.

`expected_callbacks` takes the "is this call flagged?" decision as a parameter. With the labels
(`labelled_unwanted`) and the office's client base it gives the ground truth a person expects. With the flags
Touchpoint actually stored and no client base (the classifier starts knowing nobody and learns contacts from
conversations), it gives what the rules imply *given those flags*: the stored tasks must equal that exactly, so
every difference from the ground truth is then explained by flags alone."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.simulator.model import TASK_STATUSES, ExpectedReply, ExpectedTask, SimCall, SimEmail

Flagged = Callable[[SimCall], bool]


def labelled_unwanted(call: SimCall) -> bool:
    """The ground truth: a wrong number or spam should be flagged."""
    return call.wrong_number or call.spam


def expected_callbacks(
    calls: Iterable[SimCall], *, flagged: Flagged = labelled_unwanted, owners: Mapping[str, str] | None = None
) -> tuple[ExpectedTask, ...]:
    """Callback tasks per counterpart, in the order the classifier decides (when each call's `ended` event
    happened): an inbound missed/abandoned call that is not flagged opens one, or adds an attempt to the open
    one; the next connected call (answered, external, not flagged) in either direction closes it.

    `owners`: number → owning manager known from the start. Every connected call with a number nobody owns
    makes its manager the owner, as the classifier's automatic lead does. The assignee is the owner, else the
    manager whose phone rang, else None (the classifier then picks the least busy manager on duty)."""
    owner_of: dict[str, str] = dict(owners or {})
    open_tasks: dict[str, dict[str, Any]] = {}
    done: list[ExpectedTask] = []
    for call in sorted(calls, key=lambda c: (c.decided_at, c.call_id)):
        cp = call.counterpart
        if cp is None or call.direction == "internal" or flagged(call):
            continue
        if call.status == "answered":
            if cp not in owner_of and call.manager_id is not None:
                owner_of[cp] = call.manager_id
            if (task := open_tasks.pop(cp, None)) is not None:
                answered = call.answered_at or call.started_at
                after_s = max(0, int((answered - task["since"]).total_seconds()))
                done.append(_callback(cp, task, call, after_s))
        elif call.direction == "inbound" and call.status in TASK_STATUSES:
            if cp in open_tasks:
                open_tasks[cp]["opened_by"].append(call.call_id)
            else:
                open_tasks[cp] = {
                    "contact_id": call.contact_id,
                    "assignee": owner_of.get(cp) or (call.manager_id if call.rang else None),
                    "opened_by": [call.call_id],
                    "since": call.decided_at,
                }
    done.extend(_callback(cp, t, None, None) for cp, t in open_tasks.items())
    return tuple(sorted(done, key=lambda t: t.opened_by[0]))


def _callback(counterpart: str, t: dict[str, Any], closer: SimCall | None, after_s: int | None) -> ExpectedTask:
    return ExpectedTask(
        counterpart=counterpart,
        contact_id=t["contact_id"],
        assignee=t["assignee"],
        opened_by=tuple(t["opened_by"]),
        closed_by=closer.call_id if closer else None,
        closed_after_s=after_s,
        closed_by_manager=closer.manager_id if closer else None,
    )


def expected_replies(emails: Iterable[SimEmail]) -> tuple[ExpectedReply, ...]:
    """Reply tasks per thread: inbound client mail (`needs_reply`) opens one or adds to the open one; the
    manager's next mail in the thread closes it. Auto-replies, bounces, newsletters and internal mail: none."""
    open_tasks: dict[str, list[str]] = {}
    done: list[ExpectedReply] = []
    for mail in sorted(emails, key=lambda e: (e.at, e.message_id)):
        if mail.needs_reply:
            open_tasks.setdefault(mail.thread_root, []).append(mail.message_id)
        elif mail.kind == "sent" and (opened := open_tasks.pop(mail.thread_root, None)) is not None:
            done.append(ExpectedReply(mail.thread_root, tuple(opened), mail.message_id))
    done.extend(ExpectedReply(root, tuple(opened), None) for root, opened in open_tasks.items())
    return tuple(sorted(done, key=lambda t: t.opened_by[0]))


@dataclass
class FlagScore:
    """Flags against the wrong-number/spam labels, over the day's external calls."""

    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    true_negative: int = 0
    missed_by_kind: dict[str, int] = field(default_factory=dict)  # labelled unwanted, not flagged
    false_by_kind: dict[str, int] = field(default_factory=dict)  # flagged, not labelled unwanted
    labelled_by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def precision(self) -> float | None:
        flagged = self.true_positive + self.false_positive
        return self.true_positive / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        labelled = self.true_positive + self.false_negative
        return self.true_positive / labelled if labelled else None

    def line(self) -> str:
        def fmt(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.3f}"

        recall_by_kind = ", ".join(
            f"{kind} {n - self.missed_by_kind.get(kind, 0)}/{n}" for kind, n in sorted(self.labelled_by_kind.items())
        )
        false = ", ".join(f"{k} {v}" for k, v in sorted(self.false_by_kind.items())) or "none"
        return (
            f"wrong-number/spam flags: precision {fmt(self.precision)} "
            f"({self.true_positive} of {self.true_positive + self.false_positive} flagged calls), recall "
            f"{fmt(self.recall)} ({recall_by_kind} flagged); flagged by mistake: {false}"
        )


def score_flags(calls: Iterable[SimCall], flagged: Flagged) -> FlagScore:
    score = FlagScore()
    for call in calls:
        if call.counterpart is None or call.direction == "internal":
            continue
        label, flag = labelled_unwanted(call), flagged(call)
        if label:
            kind = "wrong number" if call.wrong_number else "spam"
            score.labelled_by_kind[kind] = score.labelled_by_kind.get(kind, 0) + 1
            if flag:
                score.true_positive += 1
            else:
                score.false_negative += 1
                score.missed_by_kind[kind] = score.missed_by_kind.get(kind, 0) + 1
        elif flag:
            score.false_positive += 1
            score.false_by_kind[call.kind] = score.false_by_kind.get(call.kind, 0) + 1
        else:
            score.true_negative += 1
    return score
