"""The ingest HTTP application: the registry's webhooks, health, metrics and OpenAPI, behind one middleware that
logs and counts each request and turns every failure into problem+json (Kafka trouble into 503)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import TypedDict

import structlog
from aiohttp import web

from services.ingest.deps import DEPS, IngestDeps
from services.ingest.http.problems import FieldError, Problem, unavailable
from services.ingest.openapi import build_openapi
from services.ingest.settings import IngestSettings
from services.ingest.sources import SOURCES
from services.runtime.errors import KafkaUnavailable
from services.runtime.health import add_health_routes

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
__all__ = ["IngestDeps", "build_app", "server_options"]


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One log line and one metric per request; problems and Kafka outages become their responses."""
    deps = request.app[DEPS]
    source = request.match_info.route.name or "other"
    structlog.contextvars.bind_contextvars(source=source, method=request.method, path=request.path)
    started = time.perf_counter()
    deps.metrics.in_flight.inc()
    try:
        response = await handler(request)
    except Problem as problem:
        response = problem.response()
        detail = problem.detail
    except KafkaUnavailable as exc:
        response = unavailable(deps.settings.retry_after_s, "Kafka did not acknowledge; retry later").response()
        detail = str(exc)
    except web.HTTPException as exc:
        response = Problem(
            exc.status,
            exc.reason.lower().replace(" ", "-"),
            exc.reason,
            f"{request.method} {request.path}: {exc.reason}",
        ).response()
        if exc.status == 405:
            allowed = exc.headers.get("Allow")
            if allowed:
                response.headers["Allow"] = allowed
        detail = exc.reason
    else:
        detail = ""
    finally:
        deps.metrics.in_flight.dec()
    if source != "other" or response.status >= 400:
        deps.metrics.requests.labels(source, str(response.status)).inc()
    if request.path not in ("/healthz", "/readyz", "/metrics"):
        level = log.info if response.status < 500 else log.warning
        level(
            "ingest.request",
            status=response.status,
            ms=round((time.perf_counter() - started) * 1000, 2),
            detail=detail or None,
        )
    structlog.contextvars.unbind_contextvars("source", "method", "path", "event_id")
    return response


_WEBHOOKS = frozenset(source.name for source in SOURCES)
_EMAIL_WEBHOOKS = frozenset({"mailgun", "postmark"})


@web.middleware
async def limits_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Webhook posts only (health and metrics stay answerable under load): past the request or body-byte limit
    503 + Retry-After at once, and 408 with the connection closed when the body is not in by the deadline."""
    source = request.match_info.route.name
    if request.method != "POST" or source not in _WEBHOOKS:
        return await handler(request)
    settings = request.app[DEPS].settings
    limits = request.app[DEPS].limits
    route_limit = settings.email_max_body_bytes if source in _EMAIL_WEBHOOKS else settings.max_body_bytes
    reserved = min(request.content_length, route_limit) if request.content_length is not None else route_limit
    if not limits.try_enter(reserved):
        detail = "too many requests or body bytes in progress; retry later"
        raise Problem(
            503, "overloaded", "Ingest is at its load limit", detail, (), {"Retry-After": str(settings.retry_after_s)}
        )
    try:
        return await _body_deadline(request, handler, settings.body_read_timeout_s)
    finally:
        limits.leave(reserved)


async def _body_deadline(request: web.Request, handler: Handler, timeout_s: float) -> web.StreamResponse:
    """Cancels the handler if the body has not been received `timeout_s` after the headers (a slow sender, on
    purpose or not, would otherwise hold its slot and its buffer for as long as it likes)."""
    task = asyncio.current_task()
    assert task is not None
    expired = False

    def expire() -> None:
        nonlocal expired
        if not request.content.is_eof():
            expired = True
            task.cancel()

    timer = asyncio.get_running_loop().call_later(timeout_s, expire)
    try:
        return await handler(request)
    except asyncio.CancelledError:
        if not expired:
            raise
        task.uncancel()
        if request.protocol is not None:
            request.protocol.force_close()
        detail = f"the body was not received within {timeout_s:g}s"
        raise Problem(
            408, "body-timeout", "Request body too slow", detail, [FieldError("body", detail)], {"Connection": "close"}
        ) from None
    finally:
        timer.cancel()


class ServerOptions(TypedDict):
    keepalive_timeout: float


def server_options(settings: IngestSettings) -> ServerOptions:
    """aiohttp server settings of the composition root (and of tests): aiohttp closes a connection that is
    waiting for a request head when its keep-alive timer fires, the one guard against a client that sends its
    headers byte by byte (the body has its own deadline, _body_deadline)."""
    return {"keepalive_timeout": settings.header_read_timeout_s}


async def openapi(request: web.Request) -> web.Response:
    return web.Response(text=json.dumps(build_openapi(), indent=2), content_type="application/json")


def build_app(deps: IngestDeps) -> web.Application:
    app = web.Application(
        middlewares=[problem_middleware, limits_middleware], client_max_size=deps.settings.max_body_bytes
    )
    app[DEPS] = deps
    for source in SOURCES:
        resource = app.router.add_resource(source.route, name=source.name)
        for method in source.methods:
            resource.add_route(method, source.handler)
    add_health_routes(app, deps.ready, deps.metrics.registry)
    app.router.add_get("/openapi.json", openapi, name="openapi")
    return app
