"""The reporting HTTP application, built from the route table: pages and the JSON API under the same checks,
plus the shared health and metrics routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

import jinja2
import phonenumbers
from aiohttp import web
from prometheus_client import CollectorRegistry

from services.reporting.live_figures import live_lifecycle
from services.reporting.routes import ROUTES
from services.reporting.views import DEPS, ReportingDeps, Route, make_view
from services.reporting.watch_dashboard import shown
from services.runtime.health import add_health_routes

# Routes served without the route table's checks: the process's own health, for probes (no data in them).
HEALTH_PATHS: tuple[str, ...] = ("/healthz", "/readyz", "/metrics")


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("services.reporting", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ago"] = _short_time
    env.filters["phone"] = readable_address
    env.filters["figure"] = lambda value, name: shown(name, value)
    return env


def readable_address(value: str | None) -> str:
    """'+14155550201' → '+1 415-555-0201'; anything else (an email address, a masked value) as it is."""
    if not value or not value.startswith("+"):
        return value or ""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _short_time(value: str | None) -> str:
    """'2026-11-30T09:05:00+00:00' → '30 Nov 09:05'."""
    if not value:
        return ""
    from datetime import datetime

    try:
        return datetime.fromisoformat(value).strftime("%d %b %H:%M")
    except ValueError:
        return value


def build_app(deps: ReportingDeps, routes: Sequence[Route] = ROUTES) -> web.Application:
    app = web.Application(client_max_size=256 * 1024)
    app[DEPS] = deps
    app.cleanup_ctx.append(_producer(deps))
    app.cleanup_ctx.append(live_lifecycle(deps.pool, deps.settings.live_poll_s))
    for route in routes:
        if route.page is not None:
            app.router.add_route(route.method, route.page, make_view(route, api=False))
        if route.api is not None:
            app.router.add_route(route.method, route.api, make_view(route, api=True))
    add_health_routes(app, deps.ready, CollectorRegistry())
    return app


def _producer(deps: ReportingDeps) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await deps.producer.start()
        yield
        await deps.producer.stop()

    return lifecycle
