"""Applies one batch to PostgreSQL in one transaction, with its consumed offsets (fence_offsets.py): the batch run."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg

from schemas.actions import Action
from schemas.events import CallEvent, EmailEvent
from schemas.topics import TopicNames
from services.classifier.apply_events import Step, apply_events
from services.classifier.build_dead_letters import poison_record, refused_action
from services.classifier.correlate import interaction_id
from services.classifier.decode import ConsumedRecord
from services.classifier.drop_repeated_actions import new_actions
from services.classifier.fence_offsets import (
    Gap,
    OffsetRange,
    TopicPartition,
    advance_offsets,
    fence,
    lock_offsets,
    reconcile_offsets,
    stored_offsets,
)
from services.classifier.find_threads import find_threads
from services.classifier.keep_deals import load_deals, write_deals
from services.classifier.load_state import Touched, load_state
from services.classifier.policy import Policy
from services.classifier.record_events import record_calls, record_emails
from services.classifier.thread_emails import email_interaction_id
from services.classifier.update_figures import Figures
from services.classifier.write_back import snapshot, write_back
from services.classifier.write_outbox import dead_letter_row, outbox_rows, write_outbox
from services.runtime.postgres import Connection


@dataclass
class BatchResult:
    applied: int = 0
    duplicates: int = 0
    stale: int = 0
    rejected: int = 0
    changed: list[str] = field(default_factory=list)
    tasks_changed: list[str] = field(default_factory=list)
    rewind: dict[TopicPartition, int] = field(default_factory=dict)

    def merged(self, later: BatchResult) -> BatchResult:
        """This result followed by that of the rest of the batch (applied in a later transaction)."""
        return BatchResult(
            applied=self.applied + later.applied,
            duplicates=self.duplicates + later.duplicates,
            stale=self.stale + later.stale,
            rejected=self.rejected + later.rejected,
            changed=self.changed + later.changed,
            tasks_changed=self.tasks_changed + later.tasks_changed,
            rewind={**later.rewind, **self.rewind},
        )


class Store:
    def __init__(
        self,
        pool: asyncpg.Pool,
        group_id: str,
        topics: TopicNames,
        policy: Policy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        figures: bool = True,
    ) -> None:
        self._pool = pool
        self._topics = topics
        self._group_id = group_id
        self._policy = policy or Policy()
        self._clock = clock
        p = self._policy
        self._figures = Figures(p.hours.zone, topics, p.callback_sla_minutes) if figures else None

    async def stored_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return await stored_offsets(self._pool, self._group_id, partitions)

    async def reconcile_offsets(self, bounds: Mapping[TopicPartition, tuple[int, int]]) -> list[Gap]:
        return await reconcile_offsets(self._pool, self._group_id, bounds)

    async def apply_batch(
        self,
        records: Sequence[ConsumedRecord],
        ranges: Mapping[TopicPartition, OffsetRange],
        before_commit: Callable[[], None] = lambda: None,
    ) -> BatchResult:
        """Lock the offsets → skip what was applied → record events → load the batch's state (rows locked) → apply
        events and actions in consumed order (pure) → write back what differs → recompute the figures of the
        (manager, day) keys it touched → outbox → advance the offsets."""
        async with self._pool.acquire() as conn, conn.transaction():
            fenced = fence(records, ranges, await lock_offsets(conn, self._group_id, list(ranges)))
            result = BatchResult(stale=fenced.stale, rewind=fenced.rewind)
            if fenced.fresh:
                await self._apply(conn, fenced.fresh, result)
            await advance_offsets(conn, self._group_id, fenced.accepted)
            before_commit()
        return result

    async def set_aside(self, record: ConsumedRecord, why: BaseException) -> BatchResult:
        """Dead-letters a record the database refused (through the outbox, reason in its headers) and advances its
        partition past it, in one transaction: exactly once, like an applied record."""
        tp = (record.topic, record.partition)
        async with self._pool.acquire() as conn, conn.transaction():
            stored = await lock_offsets(conn, self._group_id, [tp])
            fenced = fence([record], {tp: OffsetRange(record.offset, record.offset + 1)}, stored)
            result = BatchResult(stale=fenced.stale, rewind=fenced.rewind)
            if fenced.fresh:
                letter = poison_record(record, why, self._clock())
                await write_outbox(conn, [dead_letter_row(self._topics, letter.event_id, letter)])
                result.rejected = 1
            await advance_offsets(conn, self._group_id, fenced.accepted)
        return result

    async def _apply(self, conn: Connection, records: Sequence[ConsumedRecord], result: BatchResult) -> None:
        calls: list[tuple[uuid.UUID, ConsumedRecord]] = []
        emails: list[tuple[uuid.UUID, ConsumedRecord]] = []
        actions: list[ConsumedRecord] = []
        call_events: list[CallEvent] = []
        email_events: list[EmailEvent] = []
        in_order: list[Step] = []
        for r in records:
            event = r.event
            if type(event) is CallEvent:  # exact types: isinstance on pydantic models goes through ABCMeta
                calls.append((iid := interaction_id(event.source, event.call_id), r))
                call_events.append(event)
            elif type(event) is EmailEvent:
                emails.append((iid := email_interaction_id(event), r))
                email_events.append(event)
            else:
                actions.append(r)
                iid = None
            in_order.append(Step(r, iid))
        fresh = await record_calls(conn, calls) if calls else set()
        threads, refs = await find_threads(conn, email_events) if emails else ({}, set())
        fresh |= await record_emails(conn, emails, threads) if emails else set()
        actions = await new_actions(conn, actions)
        steps = _first_sightings(in_order, fresh, {id(r) for r in actions})
        result.applied = len(steps)
        result.duplicates = len(records) - result.applied
        if not steps:
            return
        touched = {s.interaction_id for s in steps if s.interaction_id is not None}
        state = await load_state(
            conn, Touched(touched, refs, call_events, email_events, [_action(r) for r in actions]), self._policy.ids
        )
        loaded_deals = await load_deals(conn, state, [_action(r) for r in actions])
        loaded = snapshot(state)
        marks = self._figures.marks(state) if self._figures else None
        stored_calls = [i for i, _ in calls if i in touched and state.interactions[i].phase]
        history = await _call_history(conn, stored_calls, fresh)
        rejected = apply_events(state, steps, history, self._policy)
        written = await write_back(conn, state, loaded, actions, rejected)
        await write_deals(conn, state, loaded_deals)
        now = self._clock()
        # Keyed by where the action was consumed: an action's own key may be a phone number (MarkNumber).
        letters = [
            refused_action(r, _action(r), rejected[r.event.event_id], now)
            for r in actions
            if r.event.event_id in rejected
        ]
        dead = [(letter.event_id, letter) for letter in letters]
        rows = outbox_rows(written, dead, self._topics, now)
        if self._figures is not None and marks is not None:
            rows += await self._figures.update(conn, marks, state, now)
        await write_outbox(conn, rows)
        result.rejected = len(rejected)
        result.changed = [str(ix.id) for ix in written.interactions]
        result.tasks_changed = [str(task.id) for task, _ in written.tasks]


def _first_sightings(in_order: Sequence[Step], fresh_events: set[str], fresh_actions: set[int]) -> list[Step]:
    """The batch's records applied for the first time, in consumed order (a repeat of an event id is dropped)."""
    steps: list[Step] = []
    seen: set[str] = set()
    for step in in_order:
        if step.interaction_id is None:
            if id(step.record) in fresh_actions:
                steps.append(step)
        elif (event_id := step.record.event.event_id) in fresh_events and event_id not in seen:
            seen.add(event_id)
            steps.append(step)
    return steps


async def _call_history(
    conn: Connection, stored: Sequence[uuid.UUID], batch_events: set[str]
) -> dict[uuid.UUID, list[CallEvent]]:
    """The events of calls stored before this batch (the log already holds this batch's too: those are left out)."""
    history: dict[uuid.UUID, list[CallEvent]] = {iid: [] for iid in stored}
    if not stored:
        return history
    for row in await conn.fetch(
        "SELECT interaction_id, event_id, payload FROM interaction_events WHERE interaction_id = ANY($1::uuid[])",
        sorted(set(stored)),
    ):
        if row["event_id"] not in batch_events:
            history[row["interaction_id"]].append(CallEvent.model_validate_json(row["payload"]))
    return history


def _action(record: ConsumedRecord) -> Action:
    assert not isinstance(record.event, CallEvent | EmailEvent)
    return record.event
