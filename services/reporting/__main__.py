"""Composition root of reporting: settings → pool (migrated) → app; SIGTERM drains requests and closes."""

from __future__ import annotations

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from services.reporting.app import ReportingDeps, build_app
from services.reporting.settings import ReportingSettings
from services.runtime.health import CachedReadiness
from services.runtime.kafka import kafka_reachable
from services.runtime.lifecycle import retry_until_ready, run_process, shutdown_event
from services.runtime.logging import configure_logging
from services.runtime.postgres import database_reachable, open_migrated_pool
from services.runtime.settings import DatabaseSettings, KafkaSettings, LogSettings

log = structlog.get_logger("services.reporting")


async def main() -> None:
    settings = ReportingSettings()
    kafka = KafkaSettings()
    db = DatabaseSettings()
    configure_logging(LogSettings(), "reporting")
    stop = shutdown_event()
    pool = await retry_until_ready(lambda: open_migrated_pool(db), stop, "postgres")
    if pool is None:
        return
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
    run_process(main())
