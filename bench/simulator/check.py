"""Reading what Touchpoint stored for a simulated day: each call must be exactly one interaction with its labelled
status and counterpart (lost, duplicated, unexpected, wrong); then the tasks and flags, compared in compare.py."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import asyncpg

from bench.simulator.compare import StoredTask, WorkCheck, compare_callbacks, compare_replies
from bench.simulator.model import OfficeDay
from bench.simulator.score import score_flags
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
    flagged = {r["external_id"] for r in rows if r["flag"] in ("pending", "confirmed")}
    stored = await stored_callbacks(conn, day, source)
    result = WorkCheck(
        flags=score_flags(day.calls, lambda c: c.call_id in flagged),
        callbacks=compare_callbacks(
            day.tasks,
            stored,
            flagged,
            unwanted={c.call_id for c in day.calls if c.unwanted},
            rang={c.call_id: c.rang for c in day.calls},
        ),
        flagged_with_task=sorted({cid for t in stored for cid in t.linked if cid in flagged}),
        internal_flagged=sorted(r["external_id"] for r in rows if r["internal"] and r["flag"] is not None),
    )
    if emails:
        result.replies = compare_replies(day.replies, await stored_replies(conn, day))
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
