"""Composition root of reporting: settings → pool (migrated) → app; SIGTERM drains requests and closes."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from services.reporting.app import ReportingDeps, build_app
from services.reporting.settings import ReportingSettings
from services.runtime.health import CachedReadiness
from services.runtime.kafka import kafka_reachable
from services.runtime.lifecycle import shutdown_event
from services.runtime.logging import configure_logging
from services.runtime.postgres import create_pool, database_reachable, migrate
from services.runtime.settings import DatabaseSettings, KafkaSettings, LogSettings

log = structlog.get_logger("services.reporting")


async def main() -> None:
    settings = ReportingSettings()
    kafka = KafkaSettings()
    db = DatabaseSettings()
    configure_logging(LogSettings(), "reporting")
    stop = shutdown_event()
    delay = 0.5
    while True:
        try:
            pool = await create_pool(db)
            await migrate(pool)
            break
        except (OSError, TimeoutError, Exception) as exc:
            log.warning("reporting.waiting_for_database", error=repr(exc), retry_in_s=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                return
            delay = min(delay * 2, 10.0)
    ready = CachedReadiness({"kafka": lambda: kafka_reachable(kafka), "postgres": lambda: database_reachable(pool)})
    deps = ReportingDeps(settings=settings, pool=pool, ready=ready, registry=CollectorRegistry())
    runner = web.AppRunner(build_app(deps), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    log.info("reporting.started", url=f"http://{settings.host}:{settings.port}")
    await stop.wait()
    await runner.cleanup()
    await pool.close()
    log.info("reporting.stopped")


if __name__ == "__main__":
    asyncio.run(main())
