"""Feeding the classifier in integration tests: a reproducible stream of call events produced straight to the topics
(as ingest would) with the checks every exactly-once test makes, and records fed to the Store without a broker."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from schemas.actions import UpsertManager
from schemas.events import CallEvent, EmailEvent, PhoneAddress
from schemas.topics import ACTIONS, CALLS
from services.classifier.count_figures import COUNTS
from services.classifier.decode import Consumed, ConsumedRecord
from services.classifier.fence_offsets import OffsetRange
from services.classifier.store import Store
from services.runtime.kafka import DurableProducer, ProducerLimits
from services.runtime.postgres import Connection
from services.runtime.settings import KafkaSettings

OWN = "+14155550100"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@dataclass
class Stream:
    """Events to produce, and what the classifier must end up with."""

    events: list[CallEvent] = field(default_factory=list)
    calls: set[str] = field(default_factory=set)
    missed_inbound: dict[str, str] = field(default_factory=dict)  # call id → counterpart
    misses_per_number: dict[str, int] = field(default_factory=dict)


def _event(call_id: str, n: int, phase: str, at: datetime, number: str, **kw: object) -> CallEvent:
    return CallEvent.model_validate(
        {
            "event_id": f"{call_id}:{n}",
            "source": "generic",
            "call_id": call_id,
            "phase": phase,
            "direction": "inbound",
            "counterpart": PhoneAddress(raw=number, e164=number),
            "our_number": PhoneAddress(raw=OWN, e164=OWN),
            "occurred_at": at,
            "received_at": at,
            **kw,
        }
    )


def call_stream(calls: int, seed: int, prefix: str) -> Stream:
    """`calls` inbound calls, about 3 events each, a third of them missed; every number calls at most twice and
    never answered, so each missed number ends with exactly one open callback task. Within a call the events
    are shuffled and some duplicated; calls keep their time order per number."""
    rng = random.Random(seed)
    stream = Stream()
    for i in range(calls):
        call_id = f"{prefix}-{i}"
        at = T0 + timedelta(seconds=7 * i)
        is_missed = i % 3 == 0
        # Two misses per missed number (so attempts add up), and answered calls from numbers of their own.
        number = f"+14152{i // 6:06d}" if is_missed else f"+14153{i:06d}"
        agent = str(101 + i % 3)
        if is_missed:
            events = [
                _event(call_id, 0, "initiated", at, number),
                _event(call_id, 1, "ringing", at + timedelta(seconds=1), number, agent=agent),
                _event(call_id, 2, "ended", at + timedelta(seconds=25), number),
            ]
            stream.missed_inbound[call_id] = number
            stream.misses_per_number[number] = stream.misses_per_number.get(number, 0) + 1
        else:
            events = [
                _event(call_id, 0, "ringing", at, number, agent=agent),
                _event(call_id, 1, "answered", at + timedelta(seconds=3), number, agent=agent),
                _event(call_id, 2, "ended", at + timedelta(seconds=200), number, status="answered", talk_s=197),
            ]
        events += rng.sample(events, k=rng.randint(0, 2))
        rng.shuffle(events)
        stream.events.extend(events)
        stream.calls.add(call_id)
    return stream


async def produce(kafka: KafkaSettings, events: list[CallEvent], chunk: int = 500) -> None:
    producer = DurableProducer(kafka, ProducerLimits(max_in_flight=chunk + 1), client_id="test-feed")
    try:
        for start in range(0, len(events), chunk):
            await asyncio.gather(
                *(
                    producer.send(kafka.topics(CALLS), e.kafka_key(), e.model_dump_json(by_alias=True).encode())
                    for e in events[start : start + chunk]
                )
            )
    finally:
        await producer.stop()


async def seed_managers(kafka: KafkaSettings) -> None:
    producer = DurableProducer(kafka, ProducerLimits(), client_id="test-managers")
    try:
        for n, ext in enumerate(("101", "102", "103")):
            action = UpsertManager(
                event_id=f"seed-{ext}",
                actor_id="admin",
                occurred_at=T0 - timedelta(days=1),
                manager_id=f"m{ext}",
                name=f"Manager {ext}",
                extensions=(ext,),
                on_duty=n == 0,
            )
            await producer.send(
                kafka.topics(ACTIONS), action.kafka_key(), action.model_dump_json(by_alias=True).encode()
            )
    finally:
        await producer.stop()


async def applied_events(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM interaction_events"))


async def check_exactly_once(conn: asyncpg.Connection, stream: Stream) -> None:
    """Every call exactly one interaction in its final state; every missed call in exactly one callback task,
    one open task per number with one attempt per miss; every published change exactly once in the outbox."""
    distinct_events = len({e.event_id for e in stream.events})
    assert await applied_events(conn) == distinct_events
    rows = await conn.fetch("SELECT external_id, auto_status, version FROM interactions WHERE kind = 'call'")
    assert sorted(r["external_id"] for r in rows) == sorted(stream.calls), "one interaction per call"
    statuses = {r["external_id"]: r["auto_status"] for r in rows}
    for call_id in stream.calls:
        assert statuses[call_id] == ("missed" if call_id in stream.missed_inbound else "answered"), call_id
    links = await conn.fetch(
        """SELECT i.external_id, count(*) AS n FROM task_interactions l
           JOIN interactions i ON i.id = l.interaction_id JOIN tasks t ON t.id = l.task_id
           WHERE t.kind = 'callback' GROUP BY i.external_id"""
    )
    assert {r["external_id"]: r["n"] for r in links} == dict.fromkeys(stream.missed_inbound, 1), (
        "every missed call in exactly one callback task, and no other call in one"
    )
    tasks = await conn.fetch("SELECT address, attempts, status FROM tasks WHERE kind = 'callback'")
    assert {r["address"]: r["attempts"] for r in tasks} == stream.misses_per_number
    assert {r["status"] for r in tasks} == {"open"}
    assert await conn.fetchval("SELECT count(*) = count(DISTINCT payload->>'event_id') FROM outbox"), (
        "no change published twice"
    )
    assert await conn.fetchval(
        """SELECT count(*) FROM outbox WHERE topic LIKE '%interactions.v1'"""
    ) == await conn.fetchval("SELECT sum(version) FROM interactions WHERE phase IS NOT NULL"), (
        "one interactions.v1 record per interaction version"
    )


def action_fields(n: int, minutes: float, actor: str = "ann", *, t0: datetime) -> dict[str, Any]:
    """The fields every action has: its id `act-<n>`, who and when (`minutes` after `t0`)."""
    return {"event_id": f"act-{n}", "actor_id": actor, "occurred_at": t0 + timedelta(minutes=minutes)}


class DirectFeed:
    """Records for `Store.apply_batch` without a broker: each topic one partition, offsets in the order added."""

    def __init__(self) -> None:
        self.records: list[ConsumedRecord] = []
        self._next: dict[str, int] = {}

    def add(self, *events: Consumed) -> None:
        for event in events:
            topic = (
                "calls" if isinstance(event, CallEvent) else "emails" if isinstance(event, EmailEvent) else "actions"
            )
            offset = self._next.get(topic, 0)
            self._next[topic] = offset + 1
            raw = event.model_dump_json(by_alias=True, exclude_none=True).encode()
            self.records.append(ConsumedRecord(topic, 0, offset, event, raw))


async def apply_in_batches(store: Store, records: Sequence[ConsumedRecord], cuts: Iterable[int] = ()) -> None:
    """Applies `records` in order as consecutive batches that start at each cut."""
    bounds = [0, *sorted(set(cuts)), len(records)]
    for start, end in itertools.pairwise(bounds):
        batch = records[start:end]
        ranges: dict[tuple[str, int], OffsetRange] = {}
        for r in batch:
            tp = (r.topic, r.partition)
            first = ranges[tp].first if tp in ranges else r.offset
            ranges[tp] = OffsetRange(first, r.offset + 1)
        result = await store.apply_batch(batch, ranges)
        assert not result.rewind


DOMAIN_TABLES = (
    "managers",
    "manager_extensions",
    "contacts",
    "contact_addresses",
    "number_stats",
    "number_marks",
    "interactions",
    "interaction_events",
    "tasks",
    "task_interactions",
    "meetings",
    "plans",
    "applied_actions",
    "audit_log",
    "deals",
    "manager_daily",
    "team_daily",
    "manager_current",
)
# Bookkeeping that differs with the number of batches by design: write times, ids, and versions (one per change).
_BOOKKEEPING = frozenset({"updated_at", "created_at", "applied_at", "recorded_at", "id:audit_log", "version"})


# A manager-day whose figures went back to zero keeps its row (its last record on the topic says zero): the same as
# no row, which is what a batch that never counted anything there leaves. So does a manager's current state.
_COUNTED = {"manager_daily": f"{' + '.join(COUNTS)} > 0", "manager_current": "tasks_open + tasks_due + backlog > 0"}


async def domain_rows(conn: Connection) -> dict[str, list[tuple[tuple[str, object], ...]]]:
    """Every domain table's rows, without bookkeeping columns, sorted: what a classification decided."""
    state = {}
    for table in DOMAIN_TABLES:
        rows = [
            tuple((k, v) for k, v in row.items() if k not in _BOOKKEEPING and f"{k}:{table}" not in _BOOKKEEPING)
            for row in await conn.fetch(f"SELECT * FROM {table} WHERE {_COUNTED.get(table, 'true')}")  # noqa: S608 - fixed table names
        ]
        state[table] = sorted(rows, key=repr)
    return state


async def reset_domain(conn: Connection) -> None:
    await conn.execute(f"TRUNCATE {', '.join(DOMAIN_TABLES)}, consumer_offsets, outbox RESTART IDENTITY CASCADE")
