"""Applying a batch to PostgreSQL in one transaction: the consumed offsets (fenced), the event log, the folded
interactions, what they mean for contacts, numbers and tasks, people's actions with their audit, and the outbox
records describing each change.

The offsets stored here are the truth about what has been applied. Inside the transaction the stored offset of
each partition is locked, records before it are skipped (someone already applied them) and a batch that does
not start where the stored offset says is refused for that partition (the consumer rewinds). So a crash at any
point, a replay, or two workers briefly owning one partition during a rebalance cannot apply a record twice.

Shape of one batch, a fixed number of set-based statements whatever its size:
  lock offsets → insert new interactions and events (dedupe on event_id) → load the `World` the batch touches
  (rows locked) → fold calls, thread emails → classify and apply actions in memory (pure) → write back what
  changed (unnest upserts) and the outbox → advance the offsets."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from schemas.actions import Action, CloseTask, MarkNumber, ReassignContact, RecordMeeting, SetNumberList, SetOutcome
from schemas.actions import SetPlan as SetPlanAction
from schemas.events import CallEvent, EmailEvent
from schemas.records import DeadLetter, InteractionChanged, TaskChanged
from schemas.topics import DLQ, INTERACTIONS, TASKS, TopicNames
from services.classifier.apply_actions import Rejected, apply_action
from services.classifier.classify import CallChange, EmailChange, is_e164, on_call, on_email
from services.classifier.correlate import fold_call, interaction_id
from services.classifier.decode import Consumed
from services.classifier.match_contacts import contact_id_for
from services.classifier.policy import Policy
from services.classifier.score_spam import NumberStats
from services.classifier.thread_emails import (
    canonical,
    email_interaction_id,
    email_status,
    interaction_id_for_key,
    message_key,
    referenced,
    thread_of,
)
from services.classifier.world import (
    INTERACTION_COLUMNS,
    Address,
    Contact,
    Interaction,
    Manager,
    Meeting,
    Plan,
    Task,
    World,
)
from services.runtime.postgres import Connection

TopicPartition = tuple[str, int]
EMAIL_PHASE = "seen"  # emails have no call phases; a classified message is "seen"


@dataclass(frozen=True, slots=True)
class ConsumedRecord:
    topic: str
    partition: int
    offset: int
    event: Consumed
    raw: bytes | None = None
    """The record's value as consumed: stored as the event's payload without serializing it again."""


@dataclass(frozen=True, slots=True)
class OffsetRange:
    """Offsets `first` .. `next - 1` of one partition were fetched in this batch (valid or dead-lettered)."""

    first: int
    next: int


@dataclass
class BatchResult:
    applied: int = 0
    duplicates: int = 0
    stale: int = 0
    rejected: int = 0
    changed: list[str] = field(default_factory=list)
    tasks_changed: list[str] = field(default_factory=list)
    rewind: dict[TopicPartition, int] = field(default_factory=dict)


class Store:
    def __init__(
        self,
        pool: asyncpg.Pool,
        group_id: str,
        topics: TopicNames,
        policy: Policy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pool = pool
        self._topics = topics
        self._group_id = group_id
        self._policy = policy or Policy()
        self._clock = clock

    async def stored_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        rows = await self._pool.fetch(
            """SELECT topic, partition, next_offset FROM consumer_offsets
               WHERE group_id = $1 AND (topic, partition) IN
                     (SELECT * FROM unnest($2::text[], $3::int[]))""",
            self._group_id,
            [t for t, _ in partitions],
            [p for _, p in partitions],
        )
        return {(r["topic"], r["partition"]): r["next_offset"] for r in rows if r["next_offset"] >= 0}

    async def apply_batch(
        self,
        records: Sequence[ConsumedRecord],
        ranges: Mapping[TopicPartition, OffsetRange],
        before_commit: Callable[[], None] = lambda: None,
    ) -> BatchResult:
        result = BatchResult()
        async with self._pool.acquire() as conn, conn.transaction():
            stored = await self._lock_offsets(conn, list(ranges))
            accepted: dict[TopicPartition, OffsetRange] = {}
            for tp, rng in ranges.items():
                at = stored.get(tp, -1)
                if at >= 0 and at < rng.first:
                    result.rewind[tp] = at  # a gap: records before this batch were never applied
                elif at < rng.next:
                    accepted[tp] = rng
            fresh = [
                r
                for r in records
                if (r.topic, r.partition) in accepted and r.offset >= stored.get((r.topic, r.partition), -1)
            ]
            result.stale = (
                len(records) - len(fresh) - sum(1 for r in records if (r.topic, r.partition) in result.rewind)
            )
            if fresh:
                await _Batch(conn, self._topics, self._policy, self._clock(), result).apply(fresh)
            if accepted:
                await conn.execute(
                    """UPDATE consumer_offsets o SET next_offset = v.next_offset, updated_at = now()
                       FROM unnest($2::text[], $3::int[], $4::bigint[]) AS v(topic, partition, next_offset)
                       WHERE o.group_id = $1 AND o.topic = v.topic AND o.partition = v.partition""",
                    self._group_id,
                    [t for t, _ in accepted],
                    [p for _, p in accepted],
                    [r.next for r in accepted.values()],
                )
            before_commit()
        return result

    async def _lock_offsets(self, conn: Connection, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        topics, partitions = [t for t, _ in tps], [p for _, p in tps]
        await conn.execute(
            """INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
               SELECT $1, t, p, -1 FROM unnest($2::text[], $3::int[]) AS v(t, p)
               ON CONFLICT DO NOTHING""",
            self._group_id,
            topics,
            partitions,
        )
        rows = await conn.fetch(
            """SELECT topic, partition, next_offset FROM consumer_offsets
               WHERE group_id = $1 AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[]))
               ORDER BY topic, partition FOR UPDATE""",
            self._group_id,
            topics,
            partitions,
        )
        return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}


class _Batch:
    """One batch's work inside the transaction: record, load, classify (pure), write back."""

    def __init__(self, conn: Connection, topics: TopicNames, policy: Policy, now: datetime, result: BatchResult):
        self.conn = conn
        self.topics = topics
        self.policy = policy
        self.now = now
        self.result = result
        self.world = World()
        self.outbox: list[tuple[str, str, str]] = []
        self.batch_calls: list[tuple[uuid.UUID, CallEvent]] = []
        """This batch's call events with their interaction ids (a uuid5 each: computed once, here)."""

    async def apply(self, fresh: Sequence[ConsumedRecord]) -> None:
        calls = [r for r in fresh if isinstance(r.event, CallEvent)]
        self.batch_calls = [
            (interaction_id(r.event.source, r.event.call_id), r.event) for r in calls if isinstance(r.event, CallEvent)
        ]
        emails = [r for r in fresh if isinstance(r.event, EmailEvent)]
        actions = [r for r in fresh if not isinstance(r.event, CallEvent | EmailEvent)]
        call_ids = await self._record_calls(calls)
        email_threads, email_refs = await self._thread_emails(emails)
        email_ids = await self._record_emails(emails, email_threads)
        actions = await self._new_actions(actions)
        self.result.applied += len(actions)
        self.result.duplicates = len(fresh) - self.result.applied
        if not (call_ids or email_ids or actions):
            return
        await self._load(call_ids, email_ids, email_refs, actions)
        call_changes = await self._fold_calls(call_ids)
        email_changes = await self._fold_emails(email_ids)
        for change in sorted(call_changes, key=lambda c: (_when(c.interaction), c.interaction.id)):
            on_call(self.world, change, self.policy)
        for email in sorted(email_changes, key=lambda c: (c.event.sent_at or c.event.received_at, c.event.event_id)):
            on_email(self.world, email, self.policy)
        rejected = self._apply_actions(actions)
        await self._write_back(actions, rejected)

    # -- recording events -------------------------------------------------------------------------------------

    async def _insert_events(self, rows: list[tuple[str, uuid.UUID, ConsumedRecord, datetime]]) -> set[uuid.UUID]:
        if not rows:
            return set()
        inserted = await self.conn.fetch(
            """INSERT INTO interaction_events (event_id, interaction_id, topic, partition, "offset", occurred_at,
                                               payload)
               SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::int[], $5::bigint[],
                                    $6::timestamptz[], $7::jsonb[])
               ON CONFLICT (event_id) DO NOTHING
               RETURNING interaction_id""",
            [event_id for event_id, _, _, _ in rows],
            [iid for _, iid, _, _ in rows],
            [r.topic for _, _, r, _ in rows],
            [r.partition for _, _, r, _ in rows],
            [r.offset for _, _, r, _ in rows],
            [at for _, _, _, at in rows],
            [
                r.raw.decode() if r.raw is not None else r.event.model_dump_json(by_alias=True, exclude_none=True)
                for _, _, r, _ in rows
            ],
        )
        self.result.applied += len(inserted)
        return {row["interaction_id"] for row in inserted}

    async def _record_calls(self, calls: list[ConsumedRecord]) -> set[uuid.UUID]:
        if not calls:
            return set()
        first: dict[uuid.UUID, CallEvent] = {}
        for iid, event in self.batch_calls:
            first.setdefault(iid, event)
        await self.conn.execute(
            """INSERT INTO interactions (id, kind, source, external_id, direction)
               SELECT id, 'call', s, x, d FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS v(id, s, x, d)
               ORDER BY id ON CONFLICT DO NOTHING""",
            list(first),
            [e.source for e in first.values()],
            [e.call_id for e in first.values()],
            [e.direction for e in first.values()],
        )
        rows = [
            (event.event_id, iid, r, event.occurred_at) for (iid, event), r in zip(self.batch_calls, calls, strict=True)
        ]
        return await self._insert_events(rows)

    async def _thread_emails(self, emails: list[ConsumedRecord]) -> tuple[dict[str, uuid.UUID], set[str]]:
        """Thread per message key, from the threads of messages already stored and earlier in the batch."""
        if not emails:
            return {}, set()
        events = [r.event for r in emails if isinstance(r.event, EmailEvent)]
        keys = {message_key(e) for e in events}
        refs = {ref for e in events for ref in referenced(e)}
        known: dict[str, uuid.UUID] = {
            row["external_id"]: row["thread_id"]
            for row in await self.conn.fetch(
                """SELECT external_id, thread_id FROM interactions
                   WHERE kind = 'email' AND external_id = ANY($1::text[])""",
                sorted(keys | refs),
            )
            if row["thread_id"] is not None
        }
        threads: dict[str, uuid.UUID] = {}
        for e in sorted(events, key=lambda e: (e.sent_at or e.received_at, e.event_id)):
            key = message_key(e)
            thread = known.get(key) or thread_of(e, known)
            known[key] = threads[key] = thread
        return threads, refs

    async def _record_emails(self, emails: list[ConsumedRecord], threads: Mapping[str, uuid.UUID]) -> set[uuid.UUID]:
        if not emails:
            return set()
        first: dict[uuid.UUID, EmailEvent] = {}
        for r in emails:
            assert isinstance(r.event, EmailEvent)
            first.setdefault(email_interaction_id(r.event), r.event)
        await self.conn.execute(
            """INSERT INTO interactions (id, kind, source, external_id, direction, thread_id)
               SELECT id, 'email', s, x, d, t
               FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[]) AS v(id, s, x, d, t)
               ORDER BY id ON CONFLICT DO NOTHING""",
            list(first),
            [e.source for e in first.values()],
            [message_key(e) for e in first.values()],
            [e.direction for e in first.values()],
            [threads[message_key(e)] for e in first.values()],
        )
        rows = []
        for r in emails:
            assert isinstance(r.event, EmailEvent)
            rows.append((r.event.event_id, email_interaction_id(r.event), r, r.event.sent_at or r.event.received_at))
        return await self._insert_events(rows)

    async def _new_actions(self, actions: list[ConsumedRecord]) -> list[ConsumedRecord]:
        """Drops actions already applied (the same action produced twice) and repeats within the batch."""
        if not actions:
            return []
        seen = {
            row["event_id"]
            for row in await self.conn.fetch(
                "SELECT event_id FROM applied_actions WHERE event_id = ANY($1::text[])",
                [r.event.event_id for r in actions],
            )
        }
        fresh = []
        for r in actions:
            if r.event.event_id not in seen:
                seen.add(r.event.event_id)
                fresh.append(r)
        return fresh

    # -- loading the world ------------------------------------------------------------------------------------

    async def _load(
        self, call_ids: set[uuid.UUID], email_ids: set[uuid.UUID], email_refs: set[str], actions: list[ConsumedRecord]
    ) -> None:
        acts = [_action(r) for r in actions]
        await self._load_managers()
        addresses = await self._load_interactions(call_ids, email_ids, email_refs, acts)
        await self._load_contacts(addresses, acts)
        await self._load_numbers(addresses)
        await self._load_tasks(addresses, acts)
        await self._load_action_targets(acts)

    async def _load_managers(self) -> None:
        w, conn = self.world, self.conn
        for row in await conn.fetch("SELECT id, name, email, on_duty, active FROM managers"):
            w.managers[row["id"]] = Manager(row["id"], row["name"], row["email"], row["on_duty"], row["active"])
        for row in await conn.fetch("SELECT extension, manager_id FROM manager_extensions ORDER BY extension"):
            w.extensions[row["extension"]] = row["manager_id"]
            m = w.managers[row["manager_id"]]
            m.extensions = (*m.extensions, row["extension"])
        for row in await conn.fetch(
            "SELECT assignee_id, count(*) AS n FROM tasks WHERE status = 'open' AND assignee_id IS NOT NULL "
            "GROUP BY assignee_id"
        ):
            w.open_task_counts[row["assignee_id"]] = row["n"]

    async def _load_interactions(
        self, call_ids: set[uuid.UUID], email_ids: set[uuid.UUID], email_refs: set[str], acts: list[Action]
    ) -> set[str]:
        """Locks and loads the interactions the batch touches; returns the addresses they (and actions) name."""
        w, conn = self.world, self.conn
        ix_ids = set(call_ids) | set(email_ids)
        ix_ids |= {interaction_id_for_key(ref) for ref in email_refs}
        ix_ids |= {a.interaction_id for a in acts if isinstance(a, SetOutcome | MarkNumber) and a.interaction_id}
        ix_ids |= {a.interaction_id for a in acts if isinstance(a, RecordMeeting) and a.interaction_id}
        for row in await conn.fetch(
            "SELECT * FROM interactions WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE", sorted(ix_ids)
        ):
            ix = _interaction_from_row(row)
            w.interactions[ix.id] = ix

        counterpart_events = await conn.fetch(
            """SELECT DISTINCT ON (interaction_id) interaction_id, payload FROM interaction_events
               WHERE interaction_id = ANY($1::uuid[]) ORDER BY interaction_id, occurred_at, event_id""",
            sorted(email_ids),
        )
        addresses: set[str] = {ix.counterpart for ix in w.interactions.values() if ix.counterpart}
        for row in counterpart_events:
            email = EmailEvent.model_validate_json(row["payload"])
            if email.counterpart:
                addresses.add(email.counterpart.lower())
        # A call's counterpart is only known once folded: older events put it on the row, this batch's carry it.
        addresses |= {e.counterpart.e164 for _, e in self.batch_calls if e.counterpart and e.counterpart.e164}
        for a in acts:
            if isinstance(a, MarkNumber | SetNumberList) and a.number:
                addresses.add(a.number)
            if isinstance(a, RecordMeeting):
                addresses |= {x for x in (a.meeting.phone, a.meeting.email and a.meeting.email.lower()) if x}
        return addresses

    async def _load_contacts(self, addresses: set[str], acts: list[Action]) -> None:
        w, conn = self.world, self.conn
        for row in await conn.fetch(
            "SELECT address, contact_id, kind, undeliverable FROM contact_addresses WHERE address = ANY($1::text[])",
            sorted(addresses),
        ):
            w.addresses[row["address"]] = Address(row["address"], row["contact_id"], row["kind"], row["undeliverable"])

        contact_ids = {a.contact_id for a in w.addresses.values()} | {contact_id_for(a) for a in addresses}
        contact_ids |= {ix.contact_id for ix in w.interactions.values() if ix.contact_id}
        contact_ids |= {a.contact_id for a in acts if isinstance(a, ReassignContact | RecordMeeting)}
        for row in await conn.fetch(
            """SELECT id, owner_id, first_name, last_name, created_automatically, is_lead, version FROM contacts
               WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE""",
            sorted(contact_ids),
        ):
            w.contacts[row["id"]] = Contact(
                row["id"],
                row["owner_id"],
                row["first_name"],
                row["last_name"],
                row["created_automatically"],
                row["is_lead"],
                row["version"],
            )

    async def _load_numbers(self, addresses: set[str]) -> None:
        w, conn = self.world, self.conn
        phones = sorted(a for a in addresses if is_e164(a))
        marks: dict[str, dict[str, Any]] = {}
        for row in await conn.fetch(
            "SELECT address, manager_id, verdict FROM number_marks WHERE address = ANY($1::text[])", phones
        ):
            marks.setdefault(row["address"], {})[row["manager_id"]] = row["verdict"]
        for row in await conn.fetch(
            "SELECT address, list, calls, short_calls FROM number_stats WHERE address = ANY($1::text[])", phones
        ):
            w.numbers[row["address"]] = NumberStats(
                row["list"], row["calls"], row["short_calls"], marks.pop(row["address"], {})
            )
        for address, verdicts in marks.items():
            w.numbers[address] = NumberStats(marks=verdicts)

    async def _load_tasks(self, addresses: set[str], acts: list[Action]) -> None:
        w, conn = self.world, self.conn
        threads = {ix.thread_id for ix in w.interactions.values() if ix.thread_id}
        keys = [f"contact:{c}" for c in w.contacts] + [f"address:{a}" for a in addresses]
        keys += [f"contact:{contact_id_for(a)}" for a in addresses] + [f"thread:{t}" for t in threads]
        task_ids = [a.task_id for a in acts if isinstance(a, CloseTask)]
        action_ix = [a.interaction_id for a in acts if isinstance(a, SetOutcome | MarkNumber) and a.interaction_id]
        for row in await conn.fetch(
            """SELECT * FROM tasks
               WHERE (status = 'open' AND dedupe_key = ANY($1::text[]))
                  OR (status = 'open' AND contact_id = ANY($2::uuid[]))
                  OR (status = 'open' AND interaction_id = ANY($3::uuid[]))
                  OR id = ANY($4::uuid[])
               ORDER BY id FOR UPDATE""",
            sorted(set(keys)),
            sorted(w.contacts),
            sorted(action_ix),
            sorted(task_ids),
        ):
            w.load_task(_task_from_row(row))

    async def _load_action_targets(self, acts: list[Action]) -> None:
        w, conn = self.world, self.conn
        meeting_ids = [a.meeting_id for a in acts if isinstance(a, RecordMeeting)]
        for row in await conn.fetch("SELECT * FROM meetings WHERE id = ANY($1::uuid[])", meeting_ids):
            w.meetings[row["id"]] = Meeting(
                row["id"],
                row["contact_id"],
                row["interaction_id"],
                row["manager_id"],
                row["meeting_date"],
                row["last_name"],
                row["first_name"],
                row["phone"],
                row["email"],
                row["topic"],
                row["result"],
            )
        plan_keys = [(a.manager_id, a.metric, a.period) for a in acts if isinstance(a, SetPlanAction)]
        for row in await conn.fetch(
            """SELECT manager_id, metric, period, target FROM plans
               WHERE (manager_id, metric, period) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))""",
            [k[0] for k in plan_keys],
            [k[1] for k in plan_keys],
            [k[2] for k in plan_keys],
        ):
            w.plans[(row["manager_id"], row["metric"], row["period"])] = Plan(
                row["manager_id"], row["metric"], row["period"], row["target"]
            )

    # -- folding ----------------------------------------------------------------------------------------------

    async def _fold_calls(self, call_ids: set[uuid.UUID]) -> list[CallChange]:
        if not call_ids:
            return []
        events: dict[uuid.UUID, list[CallEvent]] = {iid: [] for iid in call_ids}
        # A call first seen in this batch has only this batch's events; older calls are folded from the log.
        older = {iid for iid in call_ids if self.world.interactions[iid].phase is not None}
        for iid, event in self.batch_calls:
            if iid in events and iid not in older:
                events[iid].append(event)
        for row in await self.conn.fetch(
            "SELECT interaction_id, payload FROM interaction_events WHERE interaction_id = ANY($1::uuid[])",
            sorted(older),
        ):
            events[row["interaction_id"]].append(CallEvent.model_validate_json(row["payload"]))
        changes = []
        for iid, evs in events.items():
            ix = self.world.interactions[iid]
            state = fold_call(evs)
            prior = ix.auto_status if ix.phase == "ended" else None
            for column in (
                "phase",
                "auto_status",
                "direction",
                "counterpart",
                "counterpart_raw",
                "our_address",
                "agent",
                "started_at",
                "answered_at",
                "ended_at",
                "duration_s",
                "talk_s",
                "recording_ref",
            ):
                setattr(ix, column, getattr(state, column))
            changes.append(CallChange(ix, prior, state.rang))
        return changes

    async def _fold_emails(self, email_ids: set[uuid.UUID]) -> list[EmailChange]:
        new = sorted(iid for iid in email_ids if self.world.interactions[iid].phase is None)
        if not new:
            return []
        events: dict[uuid.UUID, list[EmailEvent]] = {iid: [] for iid in new}
        for row in await self.conn.fetch(
            "SELECT interaction_id, payload FROM interaction_events WHERE interaction_id = ANY($1::uuid[])", new
        ):
            events[row["interaction_id"]].append(EmailEvent.model_validate_json(row["payload"]))
        changes = []
        for iid, evs in events.items():
            event = canonical(evs)
            ix = self.world.interactions[iid]
            ix.phase = EMAIL_PHASE
            ix.auto_status = email_status(event)
            ix.direction = event.direction
            ix.counterpart = event.counterpart.lower() if event.counterpart else None
            ix.our_address = event.our_address.lower() if event.our_address else None
            ix.started_at = event.sent_at or event.received_at
            changes.append(EmailChange(ix, event))
        return changes

    # -- actions ----------------------------------------------------------------------------------------------

    def _apply_actions(self, actions: list[ConsumedRecord]) -> dict[str, str]:
        rejected: dict[str, str] = {}
        for r in actions:
            action = _action(r)
            try:
                apply_action(self.world, action, self.policy)
            except Rejected as exc:
                rejected[action.event_id] = exc.reason
                letter = DeadLetter(
                    event_id=f"{r.topic}:{r.partition}:{r.offset}",
                    source_topic=r.topic,
                    source_partition=r.partition,
                    source_offset=r.offset,
                    reason=exc.reason,
                    error_class="Rejected",
                    payload=action.model_dump_json(by_alias=True),
                    first_seen_at=self.now,
                )
                self.outbox.append((self.topics(DLQ), action.kafka_key(), letter.model_dump_json(by_alias=True)))
        self.result.rejected = len(rejected)
        return rejected

    # -- writing back -----------------------------------------------------------------------------------------

    async def _write_back(self, actions: list[ConsumedRecord], rejected: Mapping[str, str]) -> None:
        await self._write_managers()
        await self._write_contacts()
        await self._write_numbers()
        await self._write_interactions()
        await self._write_tasks()
        await self._write_people_data()
        if actions:
            await self.conn.execute(
                """INSERT INTO applied_actions (event_id, kind, actor_id, occurred_at, accepted, reason, topic,
                                                partition, "offset")
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bool[],
                                        $6::text[], $7::text[], $8::int[], $9::bigint[])
                   ON CONFLICT DO NOTHING""",
                [_action(r).event_id for r in actions],
                [_action(r).kind for r in actions],
                [_action(r).actor_id for r in actions],
                [_action(r).occurred_at for r in actions],
                [_action(r).event_id not in rejected for r in actions],
                [rejected.get(_action(r).event_id) for r in actions],
                [r.topic for r in actions],
                [r.partition for r in actions],
                [r.offset for r in actions],
            )
        if self.outbox:
            await self.conn.execute(
                """INSERT INTO outbox (topic, key, payload)
                   SELECT t, k, p FROM unnest($1::text[], $2::text[], $3::jsonb[]) WITH ORDINALITY AS v(t, k, p, n)
                   ORDER BY n""",
                [t for t, _, _ in self.outbox],
                [k for _, k, _ in self.outbox],
                [p for _, _, p in self.outbox],
            )

    async def _write_managers(self) -> None:
        w = self.world
        if not w.managers_dirty:
            return
        dirty = [w.managers[m] for m in sorted(w.managers_dirty)]
        await self.conn.execute(
            """INSERT INTO managers (id, name, email, on_duty, active)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[], $5::bool[])
               ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email,
                   on_duty = excluded.on_duty, active = excluded.active, updated_at = now()""",
            [m.id for m in dirty],
            [m.name for m in dirty],
            [m.email for m in dirty],
            [m.on_duty for m in dirty],
            [m.active for m in dirty],
        )
        await self.conn.execute(
            "DELETE FROM manager_extensions WHERE manager_id = ANY($1::text[])", [m.id for m in dirty]
        )
        pairs = [(ext, m.id) for m in dirty for ext in m.extensions]
        await self.conn.execute(
            """INSERT INTO manager_extensions (extension, manager_id)
               SELECT * FROM unnest($1::text[], $2::text[])
               ON CONFLICT (extension) DO UPDATE SET manager_id = excluded.manager_id""",
            [e for e, _ in pairs],
            [m for _, m in pairs],
        )

    async def _write_contacts(self) -> None:
        w = self.world
        if w.contacts_dirty:
            dirty = [w.contacts[c] for c in sorted(w.contacts_dirty)]
            await self.conn.execute(
                """INSERT INTO contacts (id, owner_id, first_name, last_name, created_automatically, is_lead, version)
                   SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::bool[],
                                        $7::int[])
                   ON CONFLICT (id) DO UPDATE SET owner_id = excluded.owner_id, first_name = excluded.first_name,
                       last_name = excluded.last_name, is_lead = excluded.is_lead, version = excluded.version,
                       updated_at = now()""",
                [c.id for c in dirty],
                [c.owner_id for c in dirty],
                [c.first_name for c in dirty],
                [c.last_name for c in dirty],
                [c.created_automatically for c in dirty],
                [c.is_lead for c in dirty],
                [c.version + 1 for c in dirty],
            )
        if w.addresses_dirty:
            rows = [w.addresses[a] for a in sorted(w.addresses_dirty)]
            await self.conn.execute(
                """INSERT INTO contact_addresses (address, contact_id, kind, undeliverable)
                   SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::bool[])
                   ON CONFLICT (address) DO UPDATE SET undeliverable = excluded.undeliverable""",
                [a.address for a in rows],
                [a.contact_id for a in rows],
                [a.kind for a in rows],
                [a.undeliverable for a in rows],
            )

    async def _write_numbers(self) -> None:
        w = self.world
        if w.numbers_dirty:
            numbers = sorted(w.numbers_dirty)
            await self.conn.execute(
                """INSERT INTO number_stats (address, list, calls, short_calls)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[])
                   ON CONFLICT (address) DO UPDATE SET list = excluded.list, calls = excluded.calls,
                       short_calls = excluded.short_calls, updated_at = now()""",
                numbers,
                [w.numbers[n].list for n in numbers],
                [w.numbers[n].calls for n in numbers],
                [w.numbers[n].short_calls for n in numbers],
            )
        if w.marks:
            latest = {(m.address, m.manager_id): m for m in w.marks}  # one row per person and number
            marks = [latest[k] for k in sorted(latest)]
            await self.conn.execute(
                """INSERT INTO number_marks (address, manager_id, verdict, marked_at)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
                   ON CONFLICT (address, manager_id) DO UPDATE SET verdict = excluded.verdict,
                       marked_at = excluded.marked_at""",
                [m.address for m in marks],
                [m.manager_id for m in marks],
                [m.verdict for m in marks],
                [m.marked_at for m in marks],
            )

    async def _write_interactions(self) -> None:
        rows = sorted(
            ((ix, values) for ix in self.world.interactions.values() if (values := ix.values()) != ix.original),
            key=lambda row: row[0].id,
        )
        if not rows:
            return
        changed = [ix for ix, _ in rows]
        phase = INTERACTION_COLUMNS.index("phase")
        for ix in changed:
            # A row is inserted (version 1, no phase) before its first state: that first state is version 1.
            ix.version += 0 if ix.original is None or ix.original[phase] is None else 1
        columns = ", ".join(f"{c} = v.{c}" for c in INTERACTION_COLUMNS if c != "spam_reasons")
        await self.conn.execute(
            f"""UPDATE interactions i SET {columns}, version = v.version, updated_at = now(),
                    spam_reasons = ARRAY(SELECT jsonb_array_elements_text(v.spam_reasons))
                FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                            $8::text[], $9::uuid[], $10::text[], $11::text[], $12::text[], $13::timestamptz[],
                            $14::timestamptz[], $15::timestamptz[], $16::int[], $17::int[], $18::text[], $19::uuid[],
                            $20::bool[], $21::real[], $22::jsonb[], $23::text[], $24::text[], $25::timestamptz[])
                     AS v(id, version, {", ".join(INTERACTION_COLUMNS)})
                WHERE i.id = v.id""",  # noqa: S608 - fixed column names
            [ix.id for ix in changed],
            [ix.version for ix in changed],
            *[
                [json.dumps(list(reasons)) for reasons in column] if c == "spam_reasons" else list(column)
                for c, column in zip(
                    INTERACTION_COLUMNS, zip(*(values for _, values in rows), strict=True), strict=True
                )
            ],
        )
        topic = self.topics(INTERACTIONS)
        for ix in changed:
            record = _interaction_record(ix, self.now)
            self.outbox.append((topic, str(ix.id), record.model_dump_json(by_alias=True)))
            self.result.changed.append(str(ix.id))

    async def _write_tasks(self) -> None:
        w = self.world
        if w.tasks_dirty:
            tasks = [w.tasks[t] for t in sorted(w.tasks_dirty)]
            # Closing rows first: a task closed and its successor opened in one batch share the open-task key.
            for group in ([t for t in tasks if t.status != "open"], [t for t in tasks if t.status == "open"]):
                if group:
                    await self._upsert_tasks(group)
            for task in tasks:
                version = task.version + 1
                self.outbox.append((self.topics(TASKS), str(task.id), _task_record(task, version, self.now)))
                self.result.tasks_changed.append(str(task.id))
        if w.task_links:
            links = sorted(w.task_links)
            await self.conn.execute(
                """INSERT INTO task_interactions (task_id, interaction_id)
                   SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT DO NOTHING""",
                [t for t, _ in links],
                [i for _, i in links],
            )

    async def _upsert_tasks(self, tasks: list[Task]) -> None:
        cols = [c for c, _ in _TASK_COLUMNS]
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in ("id", "kind", "created_at"))
        params = ", ".join(f"${i + 1}::{t}[]" for i, (_, t) in enumerate(_TASK_COLUMNS))
        await self.conn.execute(
            f"""INSERT INTO tasks ({", ".join(cols)}, version)
                SELECT *, 1 FROM unnest({params})
                ON CONFLICT (id) DO UPDATE SET {updates}, version = tasks.version + 1, updated_at = now()""",  # noqa: S608 - fixed columns
            *[[getattr(t, c) for t in tasks] for c in cols],
        )

    async def _write_people_data(self) -> None:
        w = self.world
        if w.meetings:
            ms = list(w.meetings.values())
            await self.conn.execute(
                """INSERT INTO meetings (id, contact_id, interaction_id, manager_id, meeting_date, last_name,
                                         first_name, phone, email, topic, result)
                   SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::date[], $6::text[],
                                        $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
                   ON CONFLICT (id) DO UPDATE SET contact_id = excluded.contact_id,
                       interaction_id = excluded.interaction_id, manager_id = excluded.manager_id,
                       meeting_date = excluded.meeting_date, last_name = excluded.last_name,
                       first_name = excluded.first_name, phone = excluded.phone, email = excluded.email,
                       topic = excluded.topic, result = excluded.result, updated_at = now()""",
                [m.id for m in ms],
                [m.contact_id for m in ms],
                [m.interaction_id for m in ms],
                [m.manager_id for m in ms],
                [m.meeting_date for m in ms],
                [m.last_name for m in ms],
                [m.first_name for m in ms],
                [m.phone for m in ms],
                [m.email for m in ms],
                [m.topic for m in ms],
                [m.result for m in ms],
            )
        if w.plans_dirty:
            plans = [w.plans[k] for k in sorted(w.plans_dirty)]
            await self.conn.execute(
                """INSERT INTO plans (manager_id, metric, period, target)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[])
                   ON CONFLICT (manager_id, metric, period) DO UPDATE SET target = excluded.target,
                       updated_at = now()""",
                [p.manager_id for p in plans],
                [p.metric for p in plans],
                [p.period for p in plans],
                [p.target for p in plans],
            )
        if w.audit:
            a = w.audit
            await self.conn.execute(
                """INSERT INTO audit_log (action_event_id, action_kind, actor_id, acted_at, entity, entity_id,
                                          before, after)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[],
                                        $6::text[], $7::jsonb[], $8::jsonb[])""",
                [e.action_event_id for e in a],
                [e.action_kind for e in a],
                [e.actor_id for e in a],
                [e.acted_at for e in a],
                [e.entity for e in a],
                [e.entity_id for e in a],
                [None if e.before is None else json.dumps(e.before) for e in a],
                [None if e.after is None else json.dumps(e.after) for e in a],
            )


_TASK_COLUMNS = (
    ("id", "uuid"),
    ("kind", "text"),
    ("status", "text"),
    ("dedupe_key", "text"),
    ("contact_id", "uuid"),
    ("address", "text"),
    ("interaction_id", "uuid"),
    ("thread_id", "uuid"),
    ("assignee_id", "text"),
    ("reason", "text"),
    ("attempts", "int"),
    ("created_at", "timestamptz"),
    ("due_at", "timestamptz"),
    ("closed_at", "timestamptz"),
    ("closed_by_interaction_id", "uuid"),
    ("closed_by_manager_id", "text"),
    ("close_reason", "text"),
    ("response_s", "int"),
)


def _action(record: ConsumedRecord) -> Action:
    assert not isinstance(record.event, CallEvent | EmailEvent)
    return record.event


def _when(ix: Interaction) -> datetime:
    return ix.ended_at or ix.started_at or datetime.min.replace(tzinfo=UTC)


def _interaction_from_row(row: asyncpg.Record) -> Interaction:
    ix = Interaction(
        id=row["id"],
        kind=row["kind"],
        source=row["source"],
        external_id=row["external_id"],
        version=row["version"],
        **{c: row[c] for c in INTERACTION_COLUMNS if c != "spam_reasons"},
        spam_reasons=tuple(row["spam_reasons"] or ()),
    )
    ix.original = ix.values()
    return ix


def _task_from_row(row: asyncpg.Record) -> Task:
    return Task(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        dedupe_key=row["dedupe_key"],
        reason=row["reason"],
        created_at=row["created_at"],
        contact_id=row["contact_id"],
        address=row["address"],
        interaction_id=row["interaction_id"],
        thread_id=row["thread_id"],
        assignee_id=row["assignee_id"],
        attempts=row["attempts"],
        due_at=row["due_at"],
        closed_at=row["closed_at"],
        closed_by_interaction_id=row["closed_by_interaction_id"],
        closed_by_manager_id=row["closed_by_manager_id"],
        close_reason=row["close_reason"],
        response_s=row["response_s"],
        version=row["version"],
    )


def _s(value: object) -> str | None:
    return None if value is None else str(value)


def _interaction_record(ix: Interaction, now: datetime) -> InteractionChanged:
    """The analyst view: ids, statuses, timings and reasons; never the counterpart, names or the raw number."""
    return InteractionChanged(
        event_id=f"{ix.id}:{ix.version}",
        interaction_id=str(ix.id),
        version=ix.version,
        kind=ix.kind,
        source=ix.source,
        direction=ix.direction,
        auto_status=ix.auto_status,
        manager_id=ix.manager_id,
        contact_id=_s(ix.contact_id),
        started_at=ix.started_at,
        answered_at=ix.answered_at,
        ended_at=ix.ended_at,
        duration_s=ix.duration_s,
        talk_s=ix.talk_s,
        changed_at=now,
        outcome=ix.outcome,
        thread_id=_s(ix.thread_id),
        spam_score=ix.spam_score,
        spam_reasons=ix.spam_reasons,
        flag=ix.flag,
    )


def _task_record(task: Task, version: int, now: datetime) -> str:
    return TaskChanged(
        event_id=f"{task.id}:{version}",
        task_id=str(task.id),
        version=version,
        kind=task.kind,
        status=task.status,
        assignee_id=task.assignee_id,
        contact_id=_s(task.contact_id),
        interaction_id=_s(task.interaction_id),
        reason=task.reason,
        attempts=task.attempts,
        created_at=task.created_at,
        due_at=task.due_at,
        closed_at=task.closed_at,
        closed_by_interaction_id=_s(task.closed_by_interaction_id),
        closed_by_manager_id=task.closed_by_manager_id,
        close_reason=task.close_reason,
        response_s=task.response_s,
        changed_at=now,
    ).model_dump_json(by_alias=True)
