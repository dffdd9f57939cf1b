"""Composition root of the ingest process: settings → producer → HTTP app and SMTP server on one event loop;
SIGTERM stops both from accepting, drains what is in flight, exits."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import asyncpg
import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from schemas.topics import ALL_TOPICS
from services.ingest.app import IngestDeps, build_app, server_options
from services.ingest.email.parsing_pool import ParsingPool
from services.ingest.email.replay_cache import PostgresTokenClaims
from services.ingest.email.smtp import SmtpServer
from services.ingest.limits import LoadLimits
from services.ingest.metrics import IngestMetrics
from services.ingest.publish import EventPublisher
from services.ingest.settings import IngestSettings
from services.runtime.errors import KafkaUnavailable
from services.runtime.health import CachedReadiness
from services.runtime.kafka import DurableProducer, ProducerLimits, ensure_topics, kafka_reachable
from services.runtime.lifecycle import run_process, shutdown_event
from services.runtime.logging import configure_logging
from services.runtime.postgres import create_pool, migrate
from services.runtime.settings import DatabaseSettings, KafkaSettings, LogSettings

log = structlog.get_logger("services.ingest")


def utc_now() -> datetime:
    return datetime.now(UTC)


async def open_token_pool(database: DatabaseSettings) -> asyncpg.Pool:
    """The pool of the shared one-use tokens (Mailgun). It opens connections only when one is needed, so calls
    keep flowing while PostgreSQL is down; Mailgun posts get 503 then, and Mailgun retries them."""
    pool = await create_pool(database.model_copy(update={"pool_min": 0}))
    try:
        await migrate(pool)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("ingest.database_not_migrated", error=repr(exc))
    return pool


async def main() -> None:
    settings = IngestSettings()
    kafka = KafkaSettings()
    configure_logging(LogSettings(), "ingest")
    try:
        await ensure_topics(kafka, ALL_TOPICS)
    except KafkaUnavailable as exc:
        # The broker may come up after ingest: requests answer 503 until then. A settings mismatch is refused.
        log.warning("ingest.topics_not_checked", error=repr(exc))
    pool = await open_token_pool(DatabaseSettings())
    producer = DurableProducer(
        kafka,
        ProducerLimits(max_in_flight=settings.max_in_flight, send_timeout_s=settings.send_timeout_s),
        client_id=f"{kafka.client_id_prefix}-ingest",
    )
    await producer.start()
    metrics = IngestMetrics(CollectorRegistry())
    parse_threads = ThreadPoolExecutor(settings.email_parse_threads, thread_name_prefix="ingest-parse")
    parsing = ParsingPool(settings.email_parse_threshold_bytes, parse_threads)
    limits = LoadLimits(settings.max_concurrent_requests, settings.max_bytes_in_flight)
    publisher = EventPublisher(producer, metrics, kafka.topics)
    deps = IngestDeps(
        settings=settings,
        publisher=publisher,
        metrics=metrics,
        clock=utc_now,
        ready=CachedReadiness({"kafka": lambda: kafka_reachable(kafka)}),
        mailgun_tokens=PostgresTokenClaims(pool),
        parsing=parsing,
        limits=limits,
    )
    runner = web.AppRunner(
        build_app(deps), access_log=None, shutdown_timeout=settings.send_timeout_s + 1, **server_options(settings)
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    stop = shutdown_event()
    await site.start()
    smtp = SmtpServer(settings, publisher, metrics, utc_now, parsing, limits)
    await smtp.start()
    log.info(
        "ingest.started",
        url=f"http://{settings.host}:{settings.port}",
        smtp=f"{settings.smtp_host}:{smtp.port}",
        kafka=kafka.bootstrap_servers,
    )
    await stop.wait()
    log.info("ingest.stopping")
    # Both stop accepting and let what is in flight finish (each awaits its ack, bounded by the send timeout).
    await asyncio.gather(runner.cleanup(), smtp.stop(grace_s=settings.send_timeout_s + 1))
    await producer.stop()
    parse_threads.shutdown(wait=False, cancel_futures=True)
    await pool.close()
    log.info("ingest.stopped")


if __name__ == "__main__":
    try:
        run_process(main())
    except KafkaUnavailable as exc:
        raise SystemExit(f"ingest: {exc}") from exc
