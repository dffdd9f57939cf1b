"""The reporting HTTP application: the interactions API, health and metrics."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import asyncpg
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from services.reporting.queries import get_interaction, list_interactions
from services.reporting.settings import ReportingSettings
from services.runtime.health import CachedReadiness, healthz, readiness_response


@dataclass(frozen=True, slots=True)
class ReportingDeps:
    settings: ReportingSettings
    pool: asyncpg.Pool
    ready: CachedReadiness
    registry: CollectorRegistry


DEPS = web.AppKey("deps", ReportingDeps)


def problem(status: int, title: str, field: str, detail: str) -> web.HTTPException:
    body = json.dumps(
        {
            "type": "/problems/invalid-query",
            "title": title,
            "status": status,
            "detail": detail,
            "errors": [{"field": field, "message": detail}],
        }
    )
    return web.HTTPBadRequest(text=body, content_type="application/problem+json")


def _limit(request: web.Request, maximum: int) -> int:
    raw = request.query.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise problem(400, "Invalid query parameter", "limit", f"limit must be an integer from 1 to {maximum}")
    return int(raw)


async def interactions(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    limit = _limit(request, deps.settings.page_max)
    try:
        page = await list_interactions(deps.pool, limit, request.query.get("cursor"), request.query.get("counterpart"))
    except ValueError as exc:
        raise problem(400, "Invalid query parameter", "cursor", "cursor is not one this server issued") from exc
    return web.json_response({"items": page.items, "next_cursor": page.next_cursor})


async def interaction(request: web.Request) -> web.Response:
    try:
        iid = uuid.UUID(request.match_info["id"])
    except ValueError as exc:
        raise problem(400, "Invalid path parameter", "id", "id must be a UUID") from exc
    item = await get_interaction(request.app[DEPS].pool, iid)
    if item is None:
        raise web.HTTPNotFound(
            text=json.dumps(
                {"type": "/problems/not-found", "title": "Not found", "status": 404, "detail": f"no interaction {iid}"}
            ),
            content_type="application/problem+json",
        )
    return web.json_response(item)


async def readyz(request: web.Request) -> web.Response:
    return await readiness_response(request.app[DEPS].ready)


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(request.app[DEPS].registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_app(deps: ReportingDeps) -> web.Application:
    app = web.Application()
    app[DEPS] = deps
    app.router.add_get("/api/interactions", interactions)
    app.router.add_get("/api/interactions/{id}", interaction)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
