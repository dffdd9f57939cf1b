"""structlog set-up: JSON lines when not on a terminal, readable colored lines on one.

Every unit of work clears and binds its context (event_id, source, topic/partition/offset) with
`structlog.contextvars`, so one log line says everything about it."""

from __future__ import annotations

import logging
import sys

import orjson
import structlog

from services.runtime.settings import LogSettings


def configure_logging(settings: LogSettings, service: str) -> None:
    level = logging.getLevelNamesMapping()[settings.level]
    use_json = settings.format == "json" or (settings.format == "auto" and not sys.stderr.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    if use_json:
        # orjson straight to bytes: one line per request is on the hot path, and this halves its cost.
        # Tracebacks as data, without frame locals: those can hold a caller's number or address.
        shared.append(
            structlog.processors.ExceptionRenderer(structlog.tracebacks.ExceptionDictTransformer(show_locals=False))
        )
        structlog.configure(
            processors=[*shared, structlog.processors.JSONRenderer(serializer=orjson.dumps)],
            wrapper_class=structlog.make_filtering_bound_logger(level),
            logger_factory=structlog.BytesLoggerFactory(file=sys.stderr.buffer),
            cache_logger_on_first_use=True,
        )
    else:
        structlog.configure(
            processors=[*shared, structlog.dev.ConsoleRenderer()],
            wrapper_class=structlog.make_filtering_bound_logger(level),
            logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
            cache_logger_on_first_use=True,
        )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries (aiokafka, aiohttp.access) log through stdlib logging: route warnings and up to stderr.
    logging.basicConfig(
        level=max(level, logging.WARNING),
        stream=sys.stderr,
        format=f"%(asctime)s %(levelname)s [{service}] %(name)s: %(message)s",
    )
