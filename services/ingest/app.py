"""The ingest HTTP application: routes, the error/metrics middleware, health, metrics and OpenAPI.

Handlers verify the sender on the raw bytes, parse, normalize (pure functions), then publish and answer only
after the broker acknowledged. Every failure becomes a problem+json response; Kafka trouble becomes 503."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.ingest.metrics import IngestMetrics
from services.ingest.normalize_generic import GenericCallPayload, normalize_generic
from services.ingest.openapi import build_openapi
from services.ingest.problems import Problem, not_configured, unauthorized, unavailable
from services.ingest.publish import EventPublisher
from services.ingest.read_body import parse_json_model, read_limited, require_content_type
from services.ingest.settings import IngestSettings
from services.ingest.verify_signature import SignatureError, verify_generic
from services.runtime.errors import KafkaUnavailable
from services.runtime.health import CachedReadiness, healthz, readiness_response

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class IngestDeps:
    settings: IngestSettings
    publisher: EventPublisher
    metrics: IngestMetrics
    clock: Clock
    ready: CachedReadiness


DEPS = web.AppKey("deps", IngestDeps)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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


async def generic_webhook(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    secret = deps.settings.generic_secret
    if secret is None:
        raise not_configured("the generic feed (TOUCHPOINT_GENERIC_SECRET)")
    require_content_type(request, ["application/json"])
    body = await read_limited(request, deps.settings.max_body_bytes)
    now = deps.clock()
    try:
        verify_generic(
            secret.get_secret_value().encode(),
            request.headers.get("X-Touchpoint-Signature"),
            body,
            now.timestamp(),
            deps.settings.signature_tolerance_s,
        )
    except SignatureError as exc:
        raise unauthorized(str(exc), "X-Touchpoint-Signature") from exc
    payload = parse_json_model(GenericCallPayload, body)
    event = normalize_generic(payload, now, deps.settings.default_region)
    structlog.contextvars.bind_contextvars(event_id=event.event_id)
    await deps.publisher.publish([event])
    return web.json_response({"event_id": event.event_id, "status": "accepted"}, status=202)


async def readyz(request: web.Request) -> web.Response:
    return await readiness_response(request.app[DEPS].ready)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[DEPS].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    return web.Response(text=json.dumps(build_openapi(), indent=2), content_type="application/json")


def build_app(deps: IngestDeps) -> web.Application:
    app = web.Application(middlewares=[problem_middleware], client_max_size=deps.settings.max_body_bytes)
    app[DEPS] = deps
    app.router.add_post("/webhooks/generic", generic_webhook, name="generic")
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_get("/readyz", readyz, name="readyz")
    app.router.add_get("/metrics", metrics, name="metrics")
    app.router.add_get("/openapi.json", openapi, name="openapi")
    return app
