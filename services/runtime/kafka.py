"""Kafka wiring: topic creation, the durable producer, and consumer construction.

`DurableProducer.send` returns only once the broker acknowledged the record (idempotent producer,
acks=all), bounds the number of in-flight sends, and turns every way of not getting an ack in time into
`KafkaUnavailable`, so callers answer "try later" (HTTP 503, SMTP 451) instead of pretending success."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    TopicAlreadyExistsError,
    UnknownProducerId,
    UnrecognizedBrokerVersion,
    for_code,
)
from aiokafka.partitioner import DefaultPartitioner

from schemas.topics import Topic
from services.runtime.errors import KafkaUnavailable, StartupRefused
from services.runtime.settings import KafkaSettings
from services.runtime.topic_settings import (
    ExistingTopic,
    Replication,
    refusal,
    replication_for,
    retention_alteration,
    topic_config,
    topic_mismatches,
)

log = structlog.get_logger(__name__)

# After these the idempotent producer cannot recover by itself (aiokafka #1017): close it and build a new one.
_FATAL_PRODUCER_ERRORS = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch, ProducerClosed)
# A broker that is down or still starting: waiting can fix these (the rest of KafkaError says `retriable`).
_TRANSIENT_KAFKA_ERRORS = (KafkaConnectionError, KafkaTimeoutError, UnrecognizedBrokerVersion, OSError, TimeoutError)
# What AIOKafkaProducer uses when none is given (as DurableProducer does): send_batch partitions the same way.
_PARTITIONER = DefaultPartitioner()


async def ensure_topics(settings: KafkaSettings, topics: Iterable[Topic]) -> None:
    """Creates the missing topics of the catalogue with the replication this cluster needs (topic_settings.py) and
    checks the existing ones: one that differs (partitions, replication, min.insync.replicas, cleanup policy,
    retention) stops start-up with `TopicSettingsRefused` naming topic and setting; in development it is a
    warning. The one setting altered in place: a dead-letter topic kept longer than its catalogue retention is
    lowered to it (_lower_retention). A broker that cannot be reached is `KafkaUnavailable` (start-up waits)."""
    wanted = {settings.topics(t): t for t in topics}
    admin = AIOKafkaAdminClient(client_id=f"{settings.client_id_prefix}-admin", **settings.client_kwargs())
    try:
        await admin.start()
        brokers = len((await admin.describe_cluster())["brokers"])
        replication = replication_for(brokers, settings.topic_replication_factor, settings.topic_min_insync_replicas)
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        raced = await _create_topics(admin, [(name, wanted[name]) for name in missing], replication)
        present = [name for name in wanted if name in existing or name in raced]
        states = [
            await _lower_retention(admin, wanted[state.name], state) for state in await _describe_topics(admin, present)
        ]
        reasons = [reason for state in states for reason in topic_mismatches(wanted[state.name], state, replication)]
    except _TRANSIENT_KAFKA_ERRORS as exc:
        raise KafkaUnavailable(f"cannot check topics: {exc!r}") from exc
    except KafkaError as exc:
        if exc.retriable:
            raise KafkaUnavailable(f"cannot check topics: {exc!r}") from exc
        raise StartupRefused(f"Kafka refused the topic check: {exc!r}") from exc
    finally:
        await admin.close()
    if reasons and settings.environment == "development":
        log.warning("kafka.topic_settings_differ", reasons=reasons)
    elif reasons:
        raise refusal(reasons)


async def _create_topics(
    admin: AIOKafkaAdminClient, missing: Sequence[tuple[str, Topic]], replication: Replication
) -> set[str]:
    """Creates `missing`; returns those another process created meanwhile (to be checked like existing ones)."""
    if not missing:
        return set()
    response = await admin.create_topics(
        [
            NewTopic(
                name,
                num_partitions=topic.partitions,
                replication_factor=replication.factor,
                topic_configs=topic_config(topic, replication),
            )
            for name, topic in missing
        ]
    )
    raced: set[str] = set()
    for name, code, *message in response.topic_errors:
        error = for_code(code)
        if error is TopicAlreadyExistsError:
            raced.add(name)
        elif code != 0:
            raise error(f"creating {name}: {message[0] if message else ''}")
    created = [name for name, _ in missing if name not in raced]
    if created:
        log.info("kafka.topics_created", topics=created, replication_factor=replication.factor)
        await _wait_for_leaders(admin, created)
    return raced


async def _lower_retention(admin: AIOKafkaAdminClient, topic: Topic, state: ExistingTopic) -> ExistingTopic:
    """Alters a topic kept longer than its catalogue ceiling (topic_settings.RETENTION_CEILINGS) down to it; when
    the broker refuses (no ALTER_CONFIGS permission), the topic stays as it was and the check names it."""
    alteration = retention_alteration(topic, state)
    if alteration is None:
        return state
    resource = ConfigResource(ConfigResourceType.TOPIC, state.name, configs=alteration)
    for response in await admin.alter_configs([resource]):
        for code, message, *_ in response.resources:
            if code != 0:
                error = for_code(code)
                if error.retriable:
                    raise error(f"altering {state.name}: {message}")
                log.warning("kafka.topic_not_altered", topic=state.name, error=f"{error.__name__}: {message}")
                return state
    log.warning(
        "kafka.topic_retention_lowered",
        topic=state.name,
        from_ms=state.config.get("retention.ms"),
        to_ms=alteration["retention.ms"],
    )
    return replace(state, config={**state.config, "retention.ms": alteration["retention.ms"]}, overrides=alteration)


async def _describe_topics(admin: AIOKafkaAdminClient, names: Sequence[str]) -> list[ExistingTopic]:
    if not names:
        return []
    described = {t["topic"]: t for t in await admin.describe_topics(list(names))}
    configs: dict[str, dict[str, str]] = {}
    overrides: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names]):
        for code, message, _type, name, entries in (r[:5] for r in response.resources):
            if code != 0:
                raise for_code(code)(f"describing the settings of {name}: {message}")
            configs[name] = {entry[0]: entry[1] for entry in entries}
            overrides[name] = {entry[0]: entry[1] for entry in entries if _is_topic_override(entry[3])}
    states = []
    for name in names:
        topic = described[name]
        if topic.get("error_code", 0) != 0:
            raise for_code(topic["error_code"])(f"describing {name}")
        states.append(
            ExistingTopic(
                name=name,
                partitions=len(topic["partitions"]),
                replication_factor=min((len(p["replicas"]) for p in topic["partitions"]), default=0),
                config=configs.get(name, {}),
                overrides=overrides.get(name, {}),
            )
        )
    return states


def _is_topic_override(flag: object) -> bool:
    """DescribeConfigs v0 says `is_default`; v1 and later a config source, 1 being the topic's own setting."""
    return flag is False if isinstance(flag, bool) else flag == 1


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str], timeout_s: float = 15.0) -> None:
    """New topics answer NotLeaderForPartition for a moment; callers expect to use them right away."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        described = await admin.describe_topics(names)
        if all(
            t.get("error_code", 0) == 0 and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])
            for t in described
        ):
            return
        await asyncio.sleep(0.1)
    log.warning("kafka.topics_without_leader", topics=names, waited_s=timeout_s)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record for `DurableProducer.send_batch`."""

    topic: str
    key: str
    value: bytes
    headers: Mapping[str, bytes] | None = None


@dataclass(frozen=True, slots=True)
class ProducerLimits:
    """`max_in_flight` sends at once; a send waits at most `send_timeout_s` for its ack."""

    max_in_flight: int = 1000
    send_timeout_s: float = 5.0
    linger_ms: int = 2


class DurableProducer:
    def __init__(self, settings: KafkaSettings, limits: ProducerLimits, client_id: str) -> None:
        self._settings = settings
        self._limits = limits
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self.in_flight = 0

    def _build(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            client_id=self._client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=self._limits.linger_ms,
            **self._settings.client_kwargs(),
        )

    @property
    def connected(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        """Connects once; if the broker is down, `send` keeps trying to connect and answers "later"."""
        with contextlib.suppress(KafkaUnavailable):
            await self._ensure()

    async def _ensure(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                producer = self._build()
                try:
                    await asyncio.wait_for(producer.start(), self._limits.send_timeout_s)
                except (TimeoutError, KafkaError, OSError) as exc:
                    await _quiet_stop(producer)
                    raise KafkaUnavailable(f"cannot connect to Kafka: {exc!r}") from exc
                self._producer = producer
            return self._producer

    async def _reset(self, broken: AIOKafkaProducer) -> None:
        async with self._lock:
            if self._producer is broken:
                self._producer = None
        await _quiet_stop(broken)

    async def send(
        self,
        topic: str,
        key: str,
        value: bytes,
        headers: Mapping[str, bytes] | None = None,
        partition: int | None = None,
    ) -> Any:
        """Produces one record and waits for the broker's ack. Raises KafkaUnavailable when the in-flight
        bound is reached, the producer cannot connect, or no ack came within the send timeout."""
        if self.in_flight >= self._limits.max_in_flight:
            raise KafkaUnavailable("too many sends in flight")
        self.in_flight += 1
        try:
            # asyncio.timeout rather than wait_for: no extra task per send on this hot path.
            async with asyncio.timeout(self._limits.send_timeout_s):
                return await self._send(topic, key, value, headers, partition)
        except TimeoutError as exc:
            raise KafkaUnavailable(f"no ack from Kafka within {self._limits.send_timeout_s}s") from exc
        finally:
            self.in_flight -= 1

    async def _send(
        self, topic: str, key: str, value: bytes, headers: Mapping[str, bytes] | None, partition: int | None
    ) -> Any:
        producer = await self._ensure()
        try:
            future = await producer.send(
                topic,
                value=value,
                key=key.encode(),
                partition=partition,
                headers=list(headers.items()) if headers else None,
            )
            return await future
        except _FATAL_PRODUCER_ERRORS as exc:
            log.warning("kafka.producer_reset", error=repr(exc))
            await self._reset(producer)
            raise KafkaUnavailable(f"producer reset after {exc!r}") from exc
        except (KafkaConnectionError, KafkaError) as exc:
            raise KafkaUnavailable(f"Kafka error: {exc!r}") from exc

    async def send_batch(self, records: Sequence[Outgoing]) -> list[KafkaUnavailable | None]:
        """Produces `records` and waits for all acks under ONE send timeout; returns, per record, None when the
        broker acknowledged it, else why not. For callers with many records in hand (the outbox relay): `send`
        pays a task, a timer and a semaphore round per record, and aiokafka's `send` a future per record.

        Records are partitioned as aiokafka's default partitioner does (murmur2 of the key, like the Java
        client) and appended, in their order, to one record batch per partition at a time, so records of one
        key keep their order (the idempotent producer keeps it through retries). Bounded by its length:
        refused whole when it and the records in flight would exceed `max_in_flight`."""
        if not records:
            return []
        if self.in_flight + len(records) > self._limits.max_in_flight:
            raise KafkaUnavailable("too many sends in flight")
        producer = await self._ensure()
        batch_of = [-1] * len(records)  # index into `futures` of each record's batch
        futures: list[asyncio.Future[Any]] = []
        failure: BaseException | None = None  # why the records not in a batch were not sent
        self.in_flight += len(records)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._limits.send_timeout_s
            try:
                async with asyncio.timeout_at(deadline):
                    await self._enqueue(producer, records, batch_of, futures)
            except (TimeoutError, KafkaError) as exc:
                failure = exc
            if futures:
                await asyncio.wait(futures, timeout=max(0.0, deadline - loop.time()))
            outcome: list[BaseException | None] = []
            for future in futures:
                if future.done():
                    outcome.append(future.exception())
                else:
                    outcome.append(TimeoutError())
                    future.add_done_callback(_retrieve)
        finally:
            self.in_flight -= len(records)
        errors = [(failure or TimeoutError()) if i < 0 else outcome[i] for i in batch_of]
        fatal = next((e for e in errors if isinstance(e, _FATAL_PRODUCER_ERRORS)), None)
        if fatal is not None:
            log.warning("kafka.producer_reset", error=repr(fatal))
            await self._reset(producer)
        return [None if e is None else _unavailable(e, self._limits.send_timeout_s) for e in errors]

    async def _enqueue(
        self,
        producer: AIOKafkaProducer,
        records: Sequence[Outgoing],
        batch_of: list[int],
        futures: list[asyncio.Future[Any]],
    ) -> None:
        """Appends the records to per-partition batches, submitting a batch when it is full and at the end;
        `batch_of[i]` becomes the index in `futures` of the batch holding record i."""
        partitions: dict[str, list[int]] = {}
        open_batches: dict[tuple[str, int], tuple[Any, list[int]]] = {}  # builder, the records in it

        async def submit(topic: str, partition: int) -> None:
            builder, members = open_batches.pop((topic, partition))
            futures.append(await producer.send_batch(builder, topic, partition=partition))
            for i in members:
                batch_of[i] = len(futures) - 1

        for i, r in enumerate(records):
            if (all_partitions := partitions.get(r.topic)) is None:
                all_partitions = partitions[r.topic] = sorted(await producer.partitions_for(r.topic))
            key = r.key.encode()
            partition = _PARTITIONER(key, all_partitions, all_partitions)
            headers = list(r.headers.items()) if r.headers else []
            for _ in range(2):  # a full batch is submitted and the record goes to a new one
                if (r.topic, partition) not in open_batches:
                    open_batches[(r.topic, partition)] = (producer.create_batch(), [])
                builder, members = open_batches[(r.topic, partition)]
                if builder.append(key=key, value=r.value, timestamp=None, headers=headers) is not None:
                    members.append(i)
                    break
                await submit(r.topic, partition)
            else:
                raise MessageSizeTooLargeError(f"record {i} does not fit in an empty batch")
        for topic, partition in list(open_batches):
            await submit(topic, partition)

    async def partitions_for(self, topic: str) -> set[int]:
        producer = await self._ensure()
        return set(await producer.partitions_for(topic))

    async def stop(self) -> None:
        """Flushes what is pending and disconnects."""
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await _quiet_stop(producer)


def _unavailable(exc: BaseException, timeout_s: float) -> KafkaUnavailable:
    """Keeps `exc` as the cause: a caller may tell a record the broker can never take (too large) from an outage."""
    if isinstance(exc, TimeoutError):
        unavailable = KafkaUnavailable(f"no ack from Kafka within {timeout_s}s")
    elif isinstance(exc, _FATAL_PRODUCER_ERRORS):
        unavailable = KafkaUnavailable(f"producer reset after {exc!r}")
    else:
        unavailable = KafkaUnavailable(f"Kafka error: {exc!r}")
    unavailable.__cause__ = exc
    return unavailable


def _retrieve(future: asyncio.Future[Any]) -> None:
    """A record given up on may still be acked or fail later; its outcome is not news (no 'never retrieved')."""
    if not future.cancelled():
        future.exception()


async def _quiet_stop(producer: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(producer.stop(), 30)
    except (TimeoutError, KafkaError, OSError) as exc:
        log.warning("kafka.producer_stop_failed", error=repr(exc))


def build_consumer(
    settings: KafkaSettings,
    group_id: str,
    client_id: str,
    *,
    max_poll_records: int = 2000,
    session_timeout_ms: int = 10_000,
) -> AIOKafkaConsumer:
    """A consumer with manual commits: the classifier decides when work is done."""
    return AIOKafkaConsumer(
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=max_poll_records,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=max(1000, session_timeout_ms // 4),
        fetch_max_wait_ms=100,
        **settings.client_kwargs(),
    )


async def kafka_reachable(settings: KafkaSettings, timeout_s: float = 2.0) -> bool:
    """For readiness: can we open a connection to a bootstrap server and fetch metadata?"""
    admin = AIOKafkaAdminClient(client_id=f"{settings.client_id_prefix}-ready", **settings.client_kwargs())
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        await asyncio.wait_for(admin.list_topics(), timeout_s)
    except (TimeoutError, KafkaError, OSError):
        return False
    else:
        return True
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
