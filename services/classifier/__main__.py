"""Composition root of the classifier: settings → pool (migrated) → producer → consumer → pipeline + relay;
SIGTERM finishes (or abandons, uncommitted) the batch in hand, then closes everything in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys

import asyncpg
import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge

from schemas.topics import ACTIONS, ALL_TOPICS, CALLS, EMAILS
from services.classifier.consume import Pipeline, PipelineLimits, SeekToStored
from services.classifier.failpoints import Failpoints
from services.classifier.refresh_statistics import RefreshLimits, StatisticsRefresh
from services.classifier.relay_outbox import OutboxRelay, RelayLimits
from services.classifier.settings import ClassifierSettings, PolicySettings
from services.classifier.skip_offsets import SkipRefused, parse, skip_offsets
from services.classifier.store import Store
from services.runtime.errors import TooManyInvalid
from services.runtime.health import CachedReadiness, health_app
from services.runtime.kafka import DurableProducer, ProducerLimits, build_consumer, ensure_topics, kafka_reachable
from services.runtime.lifecycle import retry_until_ready, run_process, shutdown_event
from services.runtime.logging import configure_logging
from services.runtime.postgres import database_reachable, open_migrated_pool
from services.runtime.settings import DatabaseSettings, KafkaSettings, LogSettings

log = structlog.get_logger("services.classifier")


async def prepare(kafka: KafkaSettings, db: DatabaseSettings) -> asyncpg.Pool:
    """Topics exist and the schema is migrated; returns the pool."""
    await ensure_topics(kafka, ALL_TOPICS)
    return await open_migrated_pool(db)


def tune_garbage_collector() -> None:
    """A batch allocates hundreds of thousands of short-lived objects (records, models, rows, arrays). With
    CPython's default threshold (700 allocations) the cyclic collector ran thousands of times per batch, and
    every older-generation pass walked all the long-lived objects of the process: about a quarter of the
    classifier's CPU (Store harness: 72-76 -> 47-59 µs CPU/event). Objects alive after start-up are frozen
    out of collection and young collections run 70 times less often. Reference counting still frees at once
    everything not in a cycle; cycles are still collected, later."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


def metrics(
    pipeline: Pipeline, relay: OutboxRelay, seek: SeekToStored, statistics: StatisticsRefresh
) -> CollectorRegistry:
    """The process's counters, read when scraped."""
    registry = CollectorRegistry()
    Gauge("touchpoint_classifier_events_applied", "Events applied since start", registry=registry).set_function(
        lambda: pipeline.applied_total
    )
    Gauge(
        "touchpoint_classifier_outbox_published", "Outbox records published since start", registry=registry
    ).set_function(lambda: relay.published)
    Gauge(
        "touchpoint_classifier_offset_gaps", "Stored offsets found outside the log since start", registry=registry
    ).set_function(lambda: seek.gaps_total)
    Gauge(
        "touchpoint_classifier_outbox_dead_lettered", "Outbox records the relay could never produce", registry=registry
    ).set_function(lambda: relay.dead_lettered)
    Gauge(
        "touchpoint_classifier_outbox_pruned", "Relayed outbox rows deleted since start", registry=registry
    ).set_function(lambda: relay.pruned)
    Gauge(
        "touchpoint_classifier_statistics_refreshed", "ANALYZE runs of young tables since start", registry=registry
    ).set_function(lambda: statistics.analyzed)
    return registry


async def main() -> int:
    settings = ClassifierSettings()
    policy = PolicySettings().policy()
    kafka = KafkaSettings()
    db = DatabaseSettings()
    configure_logging(LogSettings(), "classifier")
    stop = shutdown_event()
    pool = await retry_until_ready(lambda: prepare(kafka, db), stop, "kafka+postgres")
    if pool is None:
        return 0
    # Room for a relay batch (sent whole by send_batch) and a consumer batch's dead letters at the same time.
    limits = ProducerLimits(max_in_flight=settings.outbox_batch + settings.max_batch)
    producer = DurableProducer(kafka, limits, client_id=f"{kafka.client_id_prefix}-classifier")
    await producer.start()
    store = Store(pool, settings.group_id, kafka.topics, policy, figures=settings.figures)
    consumer = build_consumer(
        kafka,
        settings.group_id,
        f"{kafka.client_id_prefix}-classifier",
        max_poll_records=settings.max_batch,
        session_timeout_ms=settings.session_timeout_ms,
    )
    seek = SeekToStored(consumer, store)
    consumer.subscribe([kafka.topics(t) for t in (CALLS, EMAILS, ACTIONS)], listener=seek)
    await consumer.start()
    relay = OutboxRelay(
        pool,
        producer,
        RelayLimits(
            settings.outbox_batch,
            settings.outbox_retention_s,
            settings.outbox_prune_batch,
            settings.outbox_prune_every_s,
        ),
        kafka.topics,
    )
    pipeline = Pipeline(
        consumer,
        store,
        producer,
        PipelineLimits(
            settings.max_batch, settings.batch_wait_ms, settings.max_consecutive_invalid, settings.retry_backoff_max_s
        ),
        Failpoints(settings.failpoints),
        kafka.topics,
        on_applied=relay.wake,
    )

    statistics = StatisticsRefresh(pool, RefreshLimits(every_s=settings.statistics_every_s))
    registry = metrics(pipeline, relay, seek, statistics)
    relay_task: asyncio.Task[None] | None = None

    async def relay_alive() -> bool:
        return relay_task is not None and relay.alive(relay_task)

    ready = CachedReadiness(
        {
            "kafka": lambda: kafka_reachable(kafka),
            "postgres": lambda: database_reachable(pool),
            "relay": relay_alive,
        }
    )

    runner = web.AppRunner(health_app(ready, registry), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    log.info("classifier.started", group=settings.group_id, health=f"http://{settings.host}:{settings.port}/readyz")

    tune_garbage_collector()
    relay_task = asyncio.create_task(relay.run(stop), name="outbox-relay")
    relay_task.add_done_callback(_relay_ended)
    statistics_task = (
        asyncio.create_task(statistics.run(stop), name="statistics-refresh") if settings.statistics_every_s else None
    )
    exit_code = 0
    try:
        await pipeline.run(stop)
    except TooManyInvalid as exc:
        log.error("classifier.stopped_on_invalid_records", error=str(exc))
        exit_code = 3
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await relay_task
        if statistics_task is not None:
            with contextlib.suppress(Exception):
                await statistics_task
        await consumer.stop()
        await producer.stop()
        await runner.cleanup()
        await pool.close()
        log.info("classifier.stopped")
    return exit_code


async def offsets_command(argv: list[str]) -> int:
    """`offsets skip …` (skip_offsets.py): prints the gap it recorded; 2 when the skip is refused."""
    args = parse(argv)
    settings = ClassifierSettings()
    configure_logging(LogSettings(), "classifier")
    pool = await open_migrated_pool(DatabaseSettings())
    try:
        gap = await skip_offsets(pool, settings.group_id, args.topic, args.partition, args.to, args.note)
    except SkipRefused as exc:
        log.error("classifier.offsets_skip_refused", error=str(exc))
        return 2
    finally:
        await pool.close()
    log.warning(
        "classifier.offsets_skipped",
        group=settings.group_id,
        topic=gap.topic,
        partition=gap.partition,
        from_offset=gap.from_offset,
        to_offset=gap.to_offset,
    )
    return 0


def _relay_ended(task: asyncio.Task[None]) -> None:
    """A relay that ends before shutdown stops the analyst topics: say so (readiness answers 503 from then on)."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("classifier.relay_died", error=repr(exc))


if __name__ == "__main__":
    if sys.argv[1:2] == ["offsets"]:
        sys.exit(asyncio.run(offsets_command(sys.argv[2:])))
    sys.exit(run_process(main()))
