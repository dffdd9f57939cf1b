"""Composition root of the ingest process: settings → producer → app; SIGTERM stops accepting, drains, exits."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from schemas.topics import ALL_TOPICS
from services.ingest.app import IngestDeps, build_app
from services.ingest.metrics import IngestMetrics
from services.ingest.publish import EventPublisher
from services.ingest.settings import IngestSettings
from services.runtime.errors import KafkaUnavailable
from services.runtime.health import CachedReadiness
from services.runtime.kafka import DurableProducer, ProducerLimits, ensure_topics, kafka_reachable
from services.runtime.lifecycle import shutdown_event
from services.runtime.logging import configure_logging
from services.runtime.settings import KafkaSettings, LogSettings

log = structlog.get_logger("services.ingest")


def utc_now() -> datetime:
    return datetime.now(UTC)


async def main() -> None:
    settings = IngestSettings()
    kafka = KafkaSettings()
    configure_logging(LogSettings(), "ingest")
    try:
        await ensure_topics(kafka, ALL_TOPICS)
    except Exception as exc:
        log.warning("ingest.topics_not_checked", error=repr(exc))
    producer = DurableProducer(
        kafka,
        ProducerLimits(max_in_flight=settings.max_in_flight, send_timeout_s=settings.send_timeout_s),
        client_id=f"{kafka.client_id_prefix}-ingest",
    )
    await producer.start()
    metrics = IngestMetrics(CollectorRegistry())
    deps = IngestDeps(
        settings=settings,
        publisher=EventPublisher(producer, metrics, kafka.topics),
        metrics=metrics,
        clock=utc_now,
        ready=CachedReadiness({"kafka": lambda: kafka_reachable(kafka)}),
    )
    runner = web.AppRunner(build_app(deps), access_log=None, shutdown_timeout=settings.send_timeout_s + 1)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    stop = shutdown_event()
    await site.start()
    log.info("ingest.started", url=f"http://{settings.host}:{settings.port}", kafka=kafka.bootstrap_servers)
    await stop.wait()
    log.info("ingest.stopping")
    await runner.cleanup()  # stops accepting, lets in-flight requests finish (they await their acks)
    await producer.stop()
    log.info("ingest.stopped")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KafkaUnavailable as exc:
        raise SystemExit(f"ingest: {exc}") from exc
