"""Composition root of reporting: settings → pool (migrated) → producer → app; SIGTERM drains requests and closes.
`python -m services.reporting users ...` manages accounts instead (services/reporting/manage_users.py)."""

from __future__ import annotations

import sys

import structlog
from aiohttp import web

from services.reporting.app import build_app, templates
from services.reporting.settings import ReportingSettings
from services.reporting.views import ReportingDeps
from services.runtime.company import CompanySettings
from services.runtime.health import CachedReadiness
from services.runtime.kafka import DurableProducer, ProducerLimits, kafka_reachable
from services.runtime.lifecycle import retry_until_ready, run_process, shutdown_event
from services.runtime.logging import configure_logging
from services.runtime.postgres import database_reachable, open_migrated_pool
from services.runtime.settings import DatabaseSettings, KafkaSettings, LogSettings

log = structlog.get_logger("services.reporting")


async def main() -> None:
    settings = ReportingSettings()
    kafka = KafkaSettings()
    db = DatabaseSettings()
    company = CompanySettings()
    configure_logging(LogSettings(), "reporting")
    stop = shutdown_event()
    pool = await retry_until_ready(lambda: open_migrated_pool(db), stop, "postgres")
    if pool is None:
        return
    ready = CachedReadiness({"kafka": lambda: kafka_reachable(kafka), "postgres": lambda: database_reachable(pool)})
    producer = DurableProducer(
        kafka,
        ProducerLimits(max_in_flight=settings.max_in_flight, send_timeout_s=settings.send_timeout_s),
        client_id=f"{kafka.client_id_prefix}-reporting",
    )
    deps = ReportingDeps(
        settings=settings,
        kafka=kafka,
        pool=pool,
        producer=producer,
        ready=ready,
        templates=templates(),
        default_region=company.default_region,
        timezone=company.timezone,
    )
    runner = web.AppRunner(build_app(deps), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    log.info("reporting.started", url=f"http://{settings.host}:{settings.port}")
    await stop.wait()
    await runner.cleanup()
    await pool.close()
    log.info("reporting.stopped")


if __name__ == "__main__":
    if sys.argv[1:2] == ["users"]:
        from services.reporting.manage_users import main as users_main

        raise SystemExit(users_main(sys.argv[2:]))
    run_process(main())
