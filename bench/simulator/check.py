"""Comparing what Touchpoint stored with the simulated day's ground truth.

Each simulated call must be exactly one interaction (source, external_id = call id) with the automatic status and
counterpart the simulator says. Results use the categories of an end-to-end loss checker: `lost` (sent, never
stored), `duplicated`, `unexpected` (stored, never sent) and `wrong` (stored with another status or counterpart).

Then the classifier's work (`check_work`): callback and reply tasks, and wrong-number/spam flags. What the rules
decide exactly is a hard check: the stored callback tasks must be the ones the rules imply given the flags the
classifier chose (`bench.simulator.expect`), no flagged call may have a task, no internal call a flag, and every
inbound mail that needs a reply a reply task. How good the flags are is a measurement: precision and recall
against the labels, and the ground-truth tasks lost or added because of them."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import asyncpg

from bench.simulator.expect import (
    FlagScore,
    expected_callbacks,
    expected_replies,
    labelled_unwanted,
    score_flags,
)
from bench.simulator.model import ExpectedReply, ExpectedTask, OfficeDay, SimCall
from services.classifier.thread_emails import normalize_message_id


@dataclass
class CallCheck:
    expected: int = 0
    stored: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    wrong: list[tuple[str, str, str]] = field(default_factory=list)  # call id, what was expected, what was stored

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.wrong)

    def line(self) -> str:
        return (
            f"{self.stored}/{self.expected} calls stored as interactions: lost {len(self.lost)}, duplicated "
            f"{len(self.duplicated)}, unexpected {len(self.unexpected)}, wrong status/counterpart {len(self.wrong)}"
        )


async def check_calls(conn: asyncpg.Connection, day: OfficeDay, source: str = "generic") -> CallCheck:
    prefix = f"sim{day.seed}-{day.office.day:%Y%m%d}-"
    rows = await conn.fetch(
        """SELECT external_id, auto_status, counterpart, phase FROM interactions
           WHERE kind = 'call' AND source = $1 AND starts_with(external_id, $2)""",
        source,
        prefix,
    )
    by_call: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        by_call.setdefault(row["external_id"], []).append(row)
    result = CallCheck(expected=len(day.calls), stored=len(by_call))
    expected_ids = {c.call_id for c in day.calls}
    result.unexpected = sorted(set(by_call) - expected_ids)
    for call in day.calls:
        found = by_call.get(call.call_id)
        if not found:
            result.lost.append(call.call_id)
            continue
        if len(found) > 1:
            result.duplicated.append(call.call_id)
        row = found[0]
        want = (call.status, call.counterpart)
        got = (row["auto_status"], row["counterpart"])
        if want != got:
            result.wrong.append((call.call_id, f"{want}", f"{got}"))
    return result


async def wait_for_calls(
    dsn: str, day: OfficeDay, timeout_s: float = 60.0, source: str = "generic", interval_s: float = 0.5
) -> CallCheck:
    """Polls until the stored calls match the day or `timeout_s` passes; returns the last comparison."""
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            result = await check_calls(conn, day, source)
            if result.ok or time.monotonic() >= deadline:
                return result
            await asyncio.sleep(interval_s)
    finally:
        await conn.close()


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
class TaskComparison:
    """Expected tasks against stored ones. A stored task matches the expected task it shares an opening call
    with; `wrong` lists matched pairs that differ in anything else the rules decide."""

    expected: int = 0
    stored: int = 0
    matched: int = 0
    lost: list[str] = field(default_factory=list)  # first opening call (or Message-ID) of each
    extra: list[str] = field(default_factory=list)
    wrongly_open: list[str] = field(default_factory=list)
    wrongly_closed: list[str] = field(default_factory=list)  # closed when it should be open, or by another call
    wrong_assignee: list[tuple[str, str, str]] = field(default_factory=list)  # opener, expected, stored
    wrong: list[tuple[str, str, str]] = field(default_factory=list)  # opener, expected, stored
    assignee_by_load: int = 0  # expected tasks whose assignee the rules leave to the on-duty balance

    @property
    def ok(self) -> bool:
        return not (
            self.lost or self.extra or self.wrongly_open or self.wrongly_closed or self.wrong_assignee or self.wrong
        )

    def line(self, what: str) -> str:
        return (
            f"{self.matched}/{self.expected} {what} matched ({self.stored} stored): lost {len(self.lost)}, "
            f"extra {len(self.extra)}, wrongly open {len(self.wrongly_open)}, wrongly closed "
            f"{len(self.wrongly_closed)}, wrong assignee {len(self.wrong_assignee)}, other differences "
            f"{len(self.wrong)}"
        )

    def details(self, limit: int = 5) -> list[str]:
        out = [f"lost {x}" for x in self.lost[:limit]] + [f"extra {x}" for x in self.extra[:limit]]
        out += [f"wrongly open {x}" for x in self.wrongly_open[:limit]]
        out += [f"wrongly closed {x}" for x in self.wrongly_closed[:limit]]
        out += [f"{o}: assignee expected {e}, stored {g}" for o, e, g in self.wrong_assignee[:limit]]
        out += [f"{o}: expected {e}, stored {g}" for o, e, g in self.wrong[:limit]]
        return out


def compare_callbacks(expected: tuple[ExpectedTask, ...], stored: list[StoredTask]) -> TaskComparison:
    result = TaskComparison(expected=len(expected), stored=len(stored))
    unmatched = list(stored)
    for want in expected:
        opener = want.opened_by[0]
        if want.assignee is None:
            result.assignee_by_load += 1
        got = next((s for s in unmatched if set(s.linked) & set(want.opened_by)), None)
        if got is None:
            result.lost.append(opener)
            continue
        unmatched.remove(got)
        result.matched += 1
        if want.closed_by is not None and got.status == "open":
            result.wrongly_open.append(opener)
        elif (want.closed_by is None and got.status != "open") or (
            want.closed_by is not None and got.closed_by != want.closed_by
        ):
            result.wrongly_closed.append(opener)
        if want.assignee is not None and got.assignee != want.assignee:
            result.wrong_assignee.append((opener, want.assignee, f"{got.assignee}"))
        elif want.assignee is None and got.assignee is None:
            result.wrong_assignee.append((opener, "a manager on duty", "nobody"))
        want_facts: tuple[object, ...] = (want.counterpart, want.opened_by, len(want.opened_by))
        got_facts: tuple[object, ...] = (got.counterpart, got.linked, got.attempts)
        if want.closed_by is not None and got.closed_by == want.closed_by:
            want_facts += (want.closed_by_manager, want.closed_after_s)
            got_facts += (got.closed_by_manager, got.response_s)
        if want_facts != got_facts:
            result.wrong.append((opener, f"{want_facts}", f"{got_facts}"))
    result.extra = [s.linked[0] if s.linked else s.id for s in unmatched]
    return result


def compare_replies(expected: tuple[ExpectedReply, ...], stored: list[StoredTask]) -> TaskComparison:
    """Reply tasks by normalized Message-ID; threads, attempts and closing mail must agree."""
    norm = normalize_message_id
    result = TaskComparison(expected=len(expected), stored=len(stored))
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
    callbacks_by_rules: TaskComparison  # hard: stored = what the rules imply given the stored flags
    callbacks_vs_truth: TaskComparison  # measured: stored against the labels
    flagged_with_task: list[str] = field(default_factory=list)  # hard: flagged calls must not open or add to one
    internal_flagged: list[str] = field(default_factory=list)  # hard: internal calls are never scored
    replies: TaskComparison | None = None  # hard, when the day's mail was sent
    # Why the stored tasks differ from the ground truth (measured): tasks a wrong number or spam call opened
    # because it was not flagged, tasks lost because a wanted call was flagged, and assignees the classifier
    # could not know (an abandoned call rings nobody, and the simulated client base is not in Touchpoint, so a
    # client it has not talked to yet is assigned by on-duty load instead of to their owner).
    extra_from_unflagged: int = 0
    lost_to_flags: int = 0
    assignee_by_load_differs: int = 0

    @property
    def ok(self) -> bool:
        return (
            self.callbacks_by_rules.ok
            and not self.flagged_with_task
            and not self.internal_flagged
            and (self.replies is None or self.replies.ok)
        )

    def lines(self) -> list[str]:
        rules, truth = self.callbacks_by_rules, self.callbacks_vs_truth
        out = [
            "callback tasks as the classifier's rules imply from its own flags (hard check): "
            + rules.line("tasks")
            + (f"; {rules.assignee_by_load} assigned by on-duty load, not checked" if rules.assignee_by_load else ""),
            *(f"  {d}" for d in rules.details()),
            f"flagged calls with a callback task (hard check): {len(self.flagged_with_task)}; "
            f"internal calls flagged (hard check): {len(self.internal_flagged)}",
            self.flags.line(),
            "callback tasks against the ground truth (measured): " + truth.line("tasks"),
            f"  of which: extra because a wrong number/spam call was not flagged {self.extra_from_unflagged}, lost "
            f"because a wanted call was flagged {self.lost_to_flags}, other assignee because the abandoned call "
            f"was from a client Touchpoint did not know yet (assigned by on-duty load) {self.assignee_by_load_differs}",
        ]
        if self.replies is not None:
            out.append("reply tasks (hard check): " + self.replies.line("tasks"))
            out.extend(f"  {d}" for d in self.replies.details())
        return out


async def stored_callbacks(conn: asyncpg.Connection, day: OfficeDay, source: str = "generic") -> list[StoredTask]:
    prefix = f"sim{day.seed}-{day.office.day:%Y%m%d}-"
    rows = await conn.fetch(
        """SELECT t.id::text, t.status, t.assignee_id, t.attempts, t.closed_by_manager_id, t.response_s,
                  COALESCE(t.address, (SELECT min(a.address) FROM contact_addresses a
                                       WHERE a.contact_id = t.contact_id AND a.kind = 'phone')) AS counterpart,
                  c.external_id AS closed_by,
                  ARRAY(SELECT i.external_id FROM task_interactions ti JOIN interactions i ON i.id = ti.interaction_id
                        WHERE ti.task_id = t.id ORDER BY i.ended_at, i.external_id) AS linked
           FROM tasks t
           JOIN interactions o ON o.id = t.interaction_id
           LEFT JOIN interactions c ON c.id = t.closed_by_interaction_id
           WHERE t.kind = 'callback' AND o.source = $1 AND starts_with(o.external_id, $2)""",
        source,
        prefix,
    )
    return [_stored(r) for r in rows]


async def stored_replies(conn: asyncpg.Connection, day: OfficeDay) -> list[StoredTask]:
    ids = [normalize_message_id(e.message_id) for e in day.emails]
    rows = await conn.fetch(
        """SELECT t.id::text, t.status, t.assignee_id, t.attempts, t.closed_by_manager_id, t.response_s,
                  NULL AS counterpart, c.external_id AS closed_by,
                  ARRAY(SELECT i.external_id FROM task_interactions ti JOIN interactions i ON i.id = ti.interaction_id
                        WHERE ti.task_id = t.id ORDER BY i.started_at, i.external_id) AS linked
           FROM tasks t
           JOIN interactions o ON o.id = t.interaction_id
           LEFT JOIN interactions c ON c.id = t.closed_by_interaction_id
           WHERE t.kind = 'reply' AND o.kind = 'email' AND o.external_id = ANY($1::text[])""",
        ids,
    )
    return [_stored(r) for r in rows]


def _stored(row: asyncpg.Record) -> StoredTask:
    return StoredTask(
        id=row["id"],
        status=row["status"],
        counterpart=row["counterpart"],
        assignee=row["assignee_id"],
        linked=tuple(row["linked"]),
        attempts=row["attempts"],
        closed_by=row["closed_by"],
        closed_by_manager=row["closed_by_manager_id"],
        response_s=row["response_s"],
    )


async def check_work(
    conn: asyncpg.Connection, day: OfficeDay, source: str = "generic", emails: bool = False
) -> WorkCheck:
    """Run once the calls check passes (every call in its final state): tasks are written in the same
    transaction as the final status that implies them. `emails`: also check reply tasks (the mail was sent)."""
    prefix = f"sim{day.seed}-{day.office.day:%Y%m%d}-"
    rows = await conn.fetch(
        """SELECT external_id, flag, internal FROM interactions
           WHERE kind = 'call' AND source = $1 AND starts_with(external_id, $2)""",
        source,
        prefix,
    )
    flag_of = {r["external_id"]: r["flag"] for r in rows}
    internal_flagged = sorted(r["external_id"] for r in rows if r["internal"] and r["flag"] is not None)

    def flagged(call: SimCall) -> bool:
        return flag_of.get(call.call_id) in ("pending", "confirmed")

    stored = await stored_callbacks(conn, day, source)
    flagged_ids = {c.call_id for c in day.calls if flagged(c)}
    implied = expected_callbacks(day.calls, flagged=flagged)
    truth = compare_callbacks(day.tasks, stored)
    by_load = {t.opened_by[0] for t in implied if t.assignee is None}
    unwanted = {c.call_id for c in day.calls if labelled_unwanted(c)}
    truth_openers = {t.opened_by[0]: t.opened_by for t in day.tasks}
    result = WorkCheck(
        flags=score_flags(day.calls, flagged),
        callbacks_by_rules=compare_callbacks(implied, stored),
        callbacks_vs_truth=truth,
        flagged_with_task=sorted({cid for t in stored for cid in t.linked if cid in flagged_ids}),
        internal_flagged=internal_flagged,
        extra_from_unflagged=sum(1 for x in truth.extra if x in unwanted),
        lost_to_flags=sum(1 for x in truth.lost if set(truth_openers[x]) & flagged_ids),
        assignee_by_load_differs=sum(1 for x, _, _ in truth.wrong_assignee if x in by_load),
    )
    if emails:
        result.replies = compare_replies(expected_replies(day.emails), await stored_replies(conn, day))
    return result


async def wait_for_work(
    dsn: str,
    day: OfficeDay,
    *,
    timeout_s: float = 60.0,
    source: str = "generic",
    emails: bool = False,
    interval_s: float = 0.5,
) -> tuple[CallCheck, WorkCheck | None]:
    """Waits for the calls (and, with `emails`, every message) to be stored, then checks the classifier's work.
    The work is None when the calls never matched: tasks of a half-processed day say nothing."""
    calls = await wait_for_calls(dsn, day, timeout_s, source, interval_s)
    if not calls.ok:
        return calls, None
    conn = await asyncpg.connect(dsn)
    try:
        if emails:
            ids = [normalize_message_id(e.message_id) for e in day.emails]
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                n = await conn.fetchval(
                    "SELECT count(*) FROM interactions WHERE kind = 'email' AND external_id = ANY($1::text[])", ids
                )
                if n >= len(ids):
                    break
                await asyncio.sleep(interval_s)
        return calls, await check_work(conn, day, source, emails)
    finally:
        await conn.close()


async def wait_for_managers(dsn: str, manager_ids: list[str], timeout_s: float = 60.0) -> bool:
    """Whether the classifier has registered all these managers (from their `upsert_manager` actions) in time."""
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            n = await conn.fetchval("SELECT count(*) FROM managers WHERE id = ANY($1::text[])", manager_ids)
            if n >= len(manager_ids):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
