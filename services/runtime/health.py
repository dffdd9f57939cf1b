"""Readiness checks and the /healthz, /readyz and /metrics handlers every process serves (`add_health_routes`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

Check = Callable[[], Awaitable[bool]]


class CachedReadiness:
    """Probes come often: each dependency is asked at most once per `ttl_s`, and concurrent probes of a stale
    result share one check in flight (a Kafka check opens a client: one per request would pile them up)."""

    def __init__(self, checks: Mapping[str, Check], ttl_s: float = 2.0) -> None:
        self._checks = dict(checks)
        self._ttl_s = ttl_s
        self._at = float("-inf")
        self._value: dict[str, bool] = {}
        self._probe: asyncio.Future[dict[str, bool]] | None = None

    async def __call__(self) -> dict[str, bool]:
        if time.monotonic() - self._at <= self._ttl_s:
            return self._value
        if self._probe is None:
            self._probe = asyncio.ensure_future(self._check_all())
        # Shielded: a probe whose client went away must not cancel the check the others wait for.
        return await asyncio.shield(self._probe)

    async def _check_all(self) -> dict[str, bool]:
        try:
            value = {name: await check() for name, check in self._checks.items()}
            self._value, self._at = value, time.monotonic()
            return value
        finally:
            self._probe = None


READY = web.AppKey("ready", CachedReadiness)
REGISTRY = web.AppKey("registry", CollectorRegistry)


async def readiness_response(ready: CachedReadiness) -> web.Response:
    checks = await ready()
    ok = all(checks.values())
    return web.json_response({"status": "ready" if ok else "unavailable", **checks}, status=200 if ok else 503)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    return await readiness_response(request.app[READY])


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(request.app[REGISTRY]), headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_health_routes(app: web.Application, ready: CachedReadiness, registry: CollectorRegistry) -> None:
    """GET /healthz, /readyz and /metrics on `app`, each route named after its path."""
    app[READY] = ready
    app[REGISTRY] = registry
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_get("/readyz", readyz, name="readyz")
    app.router.add_get("/metrics", metrics, name="metrics")


def health_app(ready: CachedReadiness, registry: CollectorRegistry) -> web.Application:
    """The whole HTTP face of a process whose main work is not HTTP (the classifier)."""
    app = web.Application()
    add_health_routes(app, ready, registry)
    return app
