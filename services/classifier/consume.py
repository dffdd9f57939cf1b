"""The classifier's consumer pipeline: fetch → decode → dead-letter the invalid → apply in one transaction
(store.py), in halves around a record PostgreSQL refuses → commit to Kafka; an outage retries the same batch."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from schemas.records import DeadLetter
from schemas.topics import DLQ, Topic, TopicNames
from services.classifier.build_dead_letters import invalid_record
from services.classifier.decode import ConsumedRecord, decode
from services.classifier.failpoints import Failpoints
from services.classifier.fence_offsets import OffsetRange, find_gaps
from services.classifier.store import BatchResult, Store
from services.runtime.errors import InvalidRecord, KafkaUnavailable, TooManyInvalid
from services.runtime.kafka import DurableProducer, Outgoing

log = structlog.get_logger(__name__)

T = TypeVar("T")

_DLQ_CHUNK = 500

_TRANSIENT_DB = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    # Two workers of the group locking the same contact or task in different orders during a rebalance:
    # PostgreSQL aborts one transaction; retrying the whole batch is safe (nothing of it was committed).
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)

# PostgreSQL refuses the data itself (NUL in text, a value too long, a constraint): the same batch fails the same way
# however often it is retried, so the refused record is found and dead-lettered (Pipeline._apply_isolating).
_POISON = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.ProgramLimitExceededError,
    UnicodeError,
)

_UNSEEN = Topic("", "", 0)

# How long one wait for records lasts while a batch is being applied: the most a batch can start late by.
_POLL_DURING_APPLY_MS = 5


@dataclass(frozen=True, slots=True)
class PipelineLimits:
    max_batch: int = 5000
    batch_wait_ms: int = 200
    max_consecutive_invalid: int = 100
    retry_backoff_max_s: float = 10.0


class SeekToStored(ConsumerRebalanceListener):  # type: ignore[misc] # aiokafka ships no type information
    """On assignment, continue each partition from the offset stored with the effects in PostgreSQL, once that
    offset is reconciled with the log: one outside it (retention passed it, the topic was recreated) is a gap,
    recorded (offset_gaps, `gaps_total`, a log line), and the partition resumes where find_gaps says."""

    def __init__(self, consumer: AIOKafkaConsumer, store: Store) -> None:
        self._consumer = consumer
        self._store = store
        self.gaps_total = 0

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if revoked:
            log.info(
                "classifier.partitions_revoked",
                partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in revoked),
            )

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        # aiokafka starts fetching a new assignment (from Kafka's committed offsets) while this callback is still
        # awaiting PostgreSQL, and getmany() may hand those records out before the seek: pause until positioned.
        # Should the lookup fail (database down), the partitions resume from Kafka's offsets, which are never
        # ahead of the stored ones; the fence in fence_offsets.py skips what was already applied.
        self._consumer.pause(*assigned)
        stored: dict[tuple[str, int], int] = {}
        try:
            stored = await self._store.stored_offsets([(tp.topic, tp.partition) for tp in assigned])
            stored.update(await self._reconcile(assigned, stored))
            for tp in assigned:
                at = stored.get((tp.topic, tp.partition))
                if at is not None:
                    self._consumer.seek(tp, at)
        finally:
            self._consumer.resume(*assigned)
        log.info(
            "classifier.partitions_assigned",
            partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in assigned),
            from_stored=len(stored),
        )

    async def _reconcile(
        self, assigned: set[TopicPartition], stored: dict[tuple[str, int], int]
    ) -> dict[tuple[str, int], int]:
        """The new positions of the partitions whose stored offset is outside the log (gaps recorded)."""
        with_stored = [tp for tp in assigned if (tp.topic, tp.partition) in stored]
        if not with_stored:
            return {}
        try:
            starts = await self._consumer.beginning_offsets(with_stored)
            ends = await self._consumer.end_offsets(with_stored)
        except (KafkaError, OSError, TimeoutError) as exc:
            # The fence still refuses gaps (it rewinds); reconciliation is tried again on the next assignment.
            log.warning("classifier.offsets_not_reconciled", error=repr(exc))
            return {}
        bounds = {(tp.topic, tp.partition): (starts[tp], ends[tp]) for tp in with_stored}
        if not find_gaps(stored, bounds):
            return {}
        gaps = await self._store.reconcile_offsets(bounds)
        for gap in gaps:
            self.gaps_total += 1
            log.error(
                "classifier.offset_gap",
                topic=gap.topic,
                partition=gap.partition,
                from_offset=gap.from_offset,
                to_offset=gap.to_offset,
                reason=gap.reason,
                resume_at=gap.resume_at,
            )
        return {(g.topic, g.partition): g.resume_at for g in gaps}


class Pipeline:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        store: Store,
        producer: DurableProducer,
        limits: PipelineLimits,
        failpoints: Failpoints,
        topics: TopicNames,
        on_applied: asyncio.Event | None = None,
    ) -> None:
        self._topics = topics
        self._consumer = consumer
        self._store = store
        self._producer = producer
        self._limits = limits
        self._failpoints = failpoints
        self._on_applied = on_applied
        self._committing: asyncio.Task[None] | None = None
        self._consecutive_invalid = 0
        self.applied_total = 0
        self._catalogue: dict[str, Topic | None] = {}  # topic name → catalogue entry, resolved once per name

    async def run(self, stop: asyncio.Event) -> None:
        """decode → validate → dead-letter → apply in a transaction → commit, until `stop` is set.

        The next batch is fetched and decoded while this one's transaction runs (the process waits for
        PostgreSQL about as long as it computes); it is applied strictly after this one has been committed."""
        idle = asyncio.Event()  # set while no batch is being applied
        idle.set()
        ahead = asyncio.create_task(self._fetch(idle), name="classifier-fetch")
        rewound: set[tuple[str, int]] = set()
        try:
            while not stop.is_set():
                fetched = await ahead
                idle.clear()
                ahead = asyncio.create_task(self._fetch(idle), name="classifier-fetch")
                if rewound:
                    # This batch was fetched during the rewind, before or after the seek: drop the rewound
                    # partitions from it and let them be read again. (Dropping records fetched after the seek
                    # leaves a gap, which the fence refuses with another seek back to the stored offset.)
                    fetched, rewound = fetched.without(rewound), set()
                try:
                    if fetched.records:
                        rewound = await self._apply(fetched, stop)
                finally:
                    idle.set()
        finally:
            await self._commit_done()
            ahead.cancel()
            await asyncio.wait([ahead])
            if not ahead.cancelled() and (exc := ahead.exception()) is not None:
                log.info("classifier.fetch_ahead_dropped", error=repr(exc))

    async def _fetch(self, idle: asyncio.Event) -> _Fetched:
        """The next batch: while a batch is being applied, everything that arrives until it is done (up to
        max_batch), decoded as it comes; when none is, the first records to arrive (or none after batch_wait_ms).

        It keeps taking records during the apply because aiokafka does not fetch a partition again while records
        of it wait in its buffer: taking one early handful and waiting would leave the rest of the apply's
        arrivals on the broker until the next batch, a cycle later."""
        records: list[ConsumerRecord] = []
        valid: list[ConsumedRecord] = []
        dead: list[DeadLetter] = []
        while len(records) < self._limits.max_batch:
            if idle.is_set() and records:
                break
            wait_ms = self._limits.batch_wait_ms if idle.is_set() else _POLL_DURING_APPLY_MS
            batch = await self._consumer.getmany(timeout_ms=wait_ms, max_records=self._limits.max_batch - len(records))
            chunk = [r for rs in batch.values() for r in rs]
            if chunk:
                records += chunk
                more_valid, more_dead = self._decode(chunk)
                valid += more_valid
                dead += more_dead
            elif idle.is_set():
                break  # nothing within batch_wait_ms: the caller looks at its stop event
        return _Fetched(records, valid, dead)

    async def _apply(self, fetched: _Fetched, stop: asyncio.Event) -> set[tuple[str, int]]:
        """Dead-letters, applies and commits one decoded batch; returns the partitions it rewound."""
        records, valid, dead = fetched.records, fetched.valid, fetched.dead
        ranges = _ranges(records)
        if dead and await self._retry(lambda: self._dead_letter(dead), stop, "dlq") is None:
            return set()  # stopping before the dead letters were acknowledged: apply nothing, commit nothing
        result = await self._retry(lambda: self._apply_isolating(records, valid), stop, "postgres")
        if result is None:
            return set()
        self._failpoints.hit("after_db_commit")
        for (topic, partition), offset in result.rewind.items():
            log.warning("classifier.rewind", topic=topic, partition=partition, offset=offset)
            self._consumer.seek(TopicPartition(topic, partition), offset)
        # Kafka's offsets are advisory (the stored ones are the truth): the commit's round trip overlaps the next
        # batch. One at a time, so a later commit never lands before an earlier one.
        await self._commit_done()
        self._committing = asyncio.create_task(self._commit(ranges, result), name="classifier-kafka-commit")
        self.applied_total += result.applied
        if result.changed and self._on_applied is not None:
            self._on_applied.set()
        log.info(
            "classifier.batch",
            records=len(records),
            applied=result.applied,
            duplicates=result.duplicates,
            stale=result.stale,
            dead_lettered=len(dead),
            rejected=result.rejected,
            interactions_changed=len(result.changed),
            tasks_changed=len(result.tasks_changed),
        )
        return set(result.rewind)

    async def _apply_isolating(self, records: Sequence[ConsumerRecord], valid: Sequence[ConsumedRecord]) -> BatchResult:
        """Applies the batch; when PostgreSQL refuses it for a reason retrying cannot fix, applies its halves in
        consumed order, down to the one record refused, which is dead-lettered: the records after it still apply.
        Halves applied before a transient error are not applied again on the retry (the fence skips them)."""
        try:
            return await self._store.apply_batch(
                valid, _ranges(records), lambda: self._failpoints.hit("before_db_commit")
            )
        except _POISON as exc:
            if len(records) == 1 and len(valid) == 1:
                record = valid[0]
                log.error(
                    "classifier.poison_record",
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    error=repr(exc)[:500],
                )
                return await self._store.set_aside(record, exc)
            if len(records) == 1:
                raise
            log.warning("classifier.batch_refused", records=len(records), error=repr(exc)[:500])
        half = len(records) // 2
        left = {(r.topic, r.partition, r.offset) for r in records[:half]}
        first = await self._apply_isolating(
            records[:half], [v for v in valid if (v.topic, v.partition, v.offset) in left]
        )
        second = await self._apply_isolating(
            records[half:], [v for v in valid if (v.topic, v.partition, v.offset) not in left]
        )
        return first.merged(second)

    def _decode(self, records: Sequence[ConsumerRecord]) -> tuple[list[ConsumedRecord], list[DeadLetter]]:
        valid: list[ConsumedRecord] = []
        dead: list[DeadLetter] = []
        for record in records:
            if (topic := self._catalogue.get(record.topic, _UNSEEN)) is _UNSEEN:
                topic = self._catalogue[record.topic] = self._topics.lookup(record.topic)
            try:
                event = decode(topic, record.value)
            except InvalidRecord as exc:
                self._consecutive_invalid += 1
                if self._consecutive_invalid > self._limits.max_consecutive_invalid:
                    log.error(
                        "classifier.too_many_invalid",
                        consecutive=self._consecutive_invalid,
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                        reason=exc.reason,
                        hint="stopping instead of dead-lettering everything: check the producer deploy",
                    )
                    raise TooManyInvalid(f"{self._consecutive_invalid} invalid records in a row") from exc
                dead.append(invalid_record(record, exc, datetime.now(UTC)))
                continue
            self._consecutive_invalid = 0
            valid.append(ConsumedRecord(record.topic, record.partition, record.offset, event, record.value))
        return valid, dead

    async def _dead_letter(self, dead: Sequence[DeadLetter]) -> int:
        """Produces the dead letters and waits for every ack; returns how many."""
        for letter in dead:
            log.warning(
                "classifier.dead_letter",
                topic=letter.source_topic,
                partition=letter.source_partition,
                offset=letter.source_offset,
                reason=letter.reason,
            )
        outgoing = [
            Outgoing(
                self._topics(DLQ),
                letter.event_id,
                letter.model_dump_json(by_alias=True).encode(),
                {
                    "reason": letter.reason[:500].encode(),
                    "error_class": letter.error_class.encode(),
                    "source_topic": letter.source_topic.encode(),
                    "source_partition": str(letter.source_partition).encode(),
                    "source_offset": str(letter.source_offset).encode(),
                },
            )
            for letter in dead
        ]
        # In chunks well inside the producer's in-flight bound: a batch of a few thousand dead letters must not be
        # refused as "too many in flight" on every retry.
        for start in range(0, len(outgoing), _DLQ_CHUNK):
            failures = [f for f in await self._producer.send_batch(outgoing[start : start + _DLQ_CHUNK]) if f]
            if failures:
                raise failures[0]
        return len(dead)

    async def _retry(self, attempt: Callable[[], Awaitable[T]], stop: asyncio.Event, what: str) -> T | None:
        """Retries transient failures with backoff, partitions paused so the batch is not refetched."""
        backoff = 0.2
        paused = False
        try:
            while True:
                try:
                    return await attempt()
                except (*_TRANSIENT_DB, KafkaUnavailable) as exc:
                    if not paused:
                        self._consumer.pause(*self._consumer.assignment())
                        paused = True
                    log.warning("classifier.retry", dependency=what, error=repr(exc), backoff_s=backoff)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), backoff)
                    if stop.is_set():
                        return None
                    backoff = min(backoff * 2, self._limits.retry_backoff_max_s)
        finally:
            if paused:
                self._consumer.resume(*self._consumer.assignment())

    async def _commit_done(self) -> None:
        if self._committing is not None:
            committing, self._committing = self._committing, None
            await committing

    async def _commit(self, ranges: dict[tuple[str, int], OffsetRange], result: BatchResult) -> None:
        assigned = self._consumer.assignment()
        offsets = {
            TopicPartition(t, p): r.next
            for (t, p), r in ranges.items()
            if (t, p) not in result.rewind and TopicPartition(t, p) in assigned
        }
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError, KafkaError) as exc:
            # Harmless: the offsets are stored in PostgreSQL, which is where a new owner resumes from.
            log.info("classifier.kafka_commit_skipped", error=repr(exc))


@dataclass(frozen=True, slots=True)
class _Fetched:
    """One fetched batch, decoded: every record, the valid ones, the dead letters of the others."""

    records: list[ConsumerRecord]
    valid: list[ConsumedRecord]
    dead: list[DeadLetter]

    def without(self, partitions: set[tuple[str, int]]) -> _Fetched:
        return _Fetched(
            [r for r in self.records if (r.topic, r.partition) not in partitions],
            [r for r in self.valid if (r.topic, r.partition) not in partitions],
            [d for d in self.dead if (d.source_topic, d.source_partition) not in partitions],
        )


def _ranges(records: Sequence[ConsumerRecord]) -> dict[tuple[str, int], OffsetRange]:
    first: dict[tuple[str, int], int] = {}
    last: dict[tuple[str, int], int] = {}
    for r in records:
        tp, offset = (r.topic, r.partition), r.offset
        if tp not in first:
            first[tp] = last[tp] = offset
        elif offset < first[tp]:
            first[tp] = offset
        elif offset > last[tp]:
            last[tp] = offset
    return {tp: OffsetRange(at, last[tp] + 1) for tp, at in first.items()}
