"""Comparing the tasks and flags Touchpoint stored with the labels of the simulated day (pure; check.py reads the
rows). Nothing here re-applies the classifier's rules: every expectation is a label the generator set."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from bench.simulator.model import ExpectedReply, ExpectedTask
from bench.simulator.score import FlagScore
from services.classifier.thread_emails import normalize_message_id


@dataclass(frozen=True, slots=True)
class StoredTask:
    """A callback or reply task as stored, its interactions named by call id / normalized Message-ID."""

    id: str
    status: str
    counterpart: str | None  # the task's address, or its contact's phone (contact_addresses)
    assignee: str | None
    linked: tuple[str, ...]  # the interactions that opened it or added attempts, in time order
    attempts: int
    closed_by: str | None
    closed_by_manager: str | None
    response_s: int | None


@dataclass
class CallbackCheck:
    """Stored callback tasks against the labelled ones, the flags' effects kept apart.

    Hard (`ok`): each labelled task with a miss the classifier did not flag is one stored task linking exactly
    those misses (as attempts); it is closed by the labelled conversation when that call was not flagged (by its
    manager, with the labelled response time when no miss was flagged) and open when nothing answered the client;
    it is assigned to the labelled manager when a phone rang; and no client's call the labels leave alone opened
    a task. Measured: what the flags cost (clients' misses without a task, extra tasks from unflagged spam)."""

    expected: int = 0
    stored: int = 0
    matched: int = 0
    lost: list[str] = field(default_factory=list)  # first unflagged miss of each
    split: list[str] = field(default_factory=list)
    wrong_calls: list[tuple[str, str, str]] = field(default_factory=list)  # opener, expected, stored
    wrongly_open: list[str] = field(default_factory=list)
    wrongly_closed: list[str] = field(default_factory=list)  # closed when nothing answered, or by another call
    wrong_assignee: list[tuple[str, str, str]] = field(default_factory=list)
    wrong: list[tuple[str, str, str]] = field(default_factory=list)  # closing manager or response time
    extra_from_client: list[str] = field(default_factory=list)
    # Measured.
    client_misses: int = 0
    misses_without_task: int = 0  # clients' missed calls no task covers (each one flagged, or `lost`)
    lost_to_flags: int = 0  # labelled tasks all of whose misses were flagged
    closer_flagged: int = 0  # the conversation that answered the client was flagged: the task stays open
    extra_from_unflagged: int = 0  # tasks a wrong number or spam call opened because it was not flagged
    assignee_by_load: int = 0  # the first miss rang nobody: the assignee is the on-duty balance's, not checked

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.split
            or self.wrong_calls
            or self.wrongly_open
            or self.wrongly_closed
            or self.wrong_assignee
            or self.wrong
            or self.extra_from_client
        )

    def lines(self, limit: int = 5) -> list[str]:
        share = self.misses_without_task / self.client_misses if self.client_misses else 0.0
        out = [
            f"callback tasks against the labels (hard check): {self.matched}/{self.expected} matched "
            f"({self.stored} stored): lost {len(self.lost)}, split {len(self.split)}, other calls or attempts "
            f"{len(self.wrong_calls)}, wrongly open {len(self.wrongly_open)}, wrongly closed "
            f"{len(self.wrongly_closed)}, wrong assignee {len(self.wrong_assignee)}, other differences "
            f"{len(self.wrong)}, opened by a client's call that needs none {len(self.extra_from_client)}",
            f"  what the flags changed (measured): clients' missed calls without a callback task "
            f"{self.misses_without_task}/{self.client_misses} ({share:.1%}), tasks lost because every miss was "
            f"flagged {self.lost_to_flags}, left open because the answering call was flagged {self.closer_flagged}, "
            f"extra because a wrong number/spam call was not flagged {self.extra_from_unflagged}; "
            f"assigned by on-duty load, not checked {self.assignee_by_load}",
        ]
        out += [f"  lost {x}" for x in self.lost[:limit]] + [f"  split {x}" for x in self.split[:limit]]
        out += [f"  {o}: expected {e}, stored {g}" for o, e, g in (self.wrong_calls + self.wrong)[:limit]]
        out += [f"  wrongly open {x}" for x in self.wrongly_open[:limit]]
        out += [f"  wrongly closed {x}" for x in self.wrongly_closed[:limit]]
        out += [f"  {o}: assignee expected {e}, stored {g}" for o, e, g in self.wrong_assignee[:limit]]
        out += [f"  opened by {x}" for x in self.extra_from_client[:limit]]
        return out


def compare_callbacks(
    expected: Iterable[ExpectedTask],
    stored: list[StoredTask],
    flagged: Collection[str],
    unwanted: Collection[str],
    rang: Mapping[str, bool],
) -> CallbackCheck:
    """`flagged`: call ids the classifier flagged; `unwanted`: call ids labelled wrong number or spam; `rang`:
    call id → whether a manager's phone rang."""
    expected = list(expected)
    result = CallbackCheck(expected=len(expected), stored=len(stored))
    by_call: dict[str, list[StoredTask]] = {}
    for task in stored:
        for call_id in task.linked:
            by_call.setdefault(call_id, []).append(task)
    matched: set[str] = set()
    for want in expected:
        result.client_misses += len(want.opened_by)
        result.misses_without_task += sum(1 for c in want.opened_by if c not in by_call)
        openers = tuple(c for c in want.opened_by if c not in flagged)
        if not openers:
            result.lost_to_flags += 1
            continue
        first = openers[0]
        got = {t.id: t for c in openers for t in by_call.get(c, [])}
        if not got:
            result.lost.append(first)
            continue
        if len(got) > 1:
            result.split.append(first)
            continue
        (task,) = got.values()
        matched.add(task.id)
        result.matched += 1
        _compare_task(want, openers, task, flagged, rang.get(first, False), result)
    for task in stored:
        if task.id in matched:
            continue
        opener = task.linked[0] if task.linked else task.id
        if opener in unwanted:
            result.extra_from_unflagged += 1
        else:
            result.extra_from_client.append(opener)
    return result


def _compare_task(
    want: ExpectedTask,
    openers: tuple[str, ...],
    task: StoredTask,
    flagged: Collection[str],
    rang: bool,
    result: CallbackCheck,
) -> None:
    first = openers[0]
    if sorted(task.linked) != sorted(openers) or task.attempts != len(openers):
        result.wrong_calls.append((first, f"{openers}", f"{task.linked} ({task.attempts} attempts)"))
    if want.closed_by is None:
        if task.status != "open":
            result.wrongly_closed.append(first)
    elif want.closed_by in flagged:
        result.closer_flagged += 1
    elif task.status == "open":
        result.wrongly_open.append(first)
    elif task.closed_by != want.closed_by:
        result.wrongly_closed.append(first)
    else:
        want_facts: tuple[object, ...] = (want.closed_by_manager,)
        got_facts: tuple[object, ...] = (task.closed_by_manager,)
        if openers == want.opened_by:  # the labelled response time runs from the first miss
            want_facts += (want.closed_after_s,)
            got_facts += (task.response_s,)
        if want_facts != got_facts:
            result.wrong.append((first, f"{want_facts}", f"{got_facts}"))
    if not rang:
        result.assignee_by_load += 1
    elif task.assignee != want.assignee:
        result.wrong_assignee.append((first, f"{want.assignee}", f"{task.assignee}"))


@dataclass
class ReplyCheck:
    """Reply tasks against the labels (`needs_reply`, `answers`), matched by normalized Message-ID."""

    expected: int = 0
    stored: int = 0
    matched: int = 0
    lost: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    wrongly_open: list[str] = field(default_factory=list)
    wrongly_closed: list[str] = field(default_factory=list)
    wrong: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.extra or self.wrongly_open or self.wrongly_closed or self.wrong)

    def lines(self, limit: int = 5) -> list[str]:
        out = [
            f"reply tasks against the labels (hard check): {self.matched}/{self.expected} matched ({self.stored} "
            f"stored): lost {len(self.lost)}, extra {len(self.extra)}, wrongly open {len(self.wrongly_open)}, "
            f"wrongly closed {len(self.wrongly_closed)}, other differences {len(self.wrong)}"
        ]
        out += [f"  lost {x}" for x in self.lost[:limit]] + [f"  extra {x}" for x in self.extra[:limit]]
        out += [f"  wrongly open {x}" for x in self.wrongly_open[:limit]]
        out += [f"  wrongly closed {x}" for x in self.wrongly_closed[:limit]]
        out += [f"  {o}: expected {e}, stored {g}" for o, e, g in self.wrong[:limit]]
        return out


def compare_replies(expected: Iterable[ExpectedReply], stored: list[StoredTask]) -> ReplyCheck:
    norm = normalize_message_id
    expected = list(expected)
    result = ReplyCheck(expected=len(expected), stored=len(stored))
    unmatched = list(stored)
    for want in expected:
        opened = tuple(norm(m) for m in want.opened_by)
        closer = norm(want.closed_by) if want.closed_by else None
        got = next((s for s in unmatched if set(s.linked) & set(opened)), None)
        if got is None:
            result.lost.append(opened[0])
            continue
        unmatched.remove(got)
        result.matched += 1
        if closer is not None and got.status == "open":
            result.wrongly_open.append(opened[0])
        elif (closer is None and got.status != "open") or (closer is not None and got.closed_by != closer):
            result.wrongly_closed.append(opened[0])
        if sorted(opened) != sorted(got.linked) or got.attempts != len(opened):
            result.wrong.append((opened[0], f"{opened}", f"{got.linked} ({got.attempts} attempts)"))
    result.extra = [s.linked[0] if s.linked else s.id for s in unmatched]
    return result


@dataclass
class WorkCheck:
    """The classifier's decisions on the day: hard checks (`ok`) and measurements."""

    flags: FlagScore
    callbacks: CallbackCheck
    flagged_with_task: list[str] = field(default_factory=list)  # hard: a flagged call opens no task
    internal_flagged: list[str] = field(default_factory=list)  # hard: internal calls are never scored
    replies: ReplyCheck | None = None  # hard, when the day's mail was sent

    @property
    def ok(self) -> bool:
        return (
            self.callbacks.ok
            and not self.flagged_with_task
            and not self.internal_flagged
            and (self.replies is None or self.replies.ok)
        )

    def lines(self) -> list[str]:
        out = [
            self.flags.line(),
            *self.callbacks.lines(),
            f"flagged calls with a callback task (hard check): {len(self.flagged_with_task)}; "
            f"internal calls flagged (hard check): {len(self.internal_flagged)}",
        ]
        if self.replies is not None:
            out += self.replies.lines()
        return out
