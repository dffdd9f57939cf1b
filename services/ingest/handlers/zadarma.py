"""GET|POST /webhooks/zadarma: Zadarma's `zd_echo` URL check (GET) and its NOTIFY_* notifications (POST),
answered 200 with an empty body (Zadarma reads a body on NOTIFY_START as call-routing commands)."""

from __future__ import annotations

import re

import structlog
from aiohttp import web

from services.ingest.deps import DEPS
from services.ingest.handlers.shared import call_context_of, normalized
from services.ingest.problems import FieldError, Problem, not_configured, unauthorized
from services.ingest.read_body import read_limited
from services.ingest.read_form import decode_form, first_values, require_form, validate_fields
from services.ingest.zadarma import (
    MODELS,
    SIGNATURE_HEADER,
    UnsupportedEvent,
    ZadarmaSignatureError,
    normalize_zadarma,
    verify_zadarma,
)

_ECHO = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")


def _echo(request: web.Request) -> web.Response:
    """Zadarma proves we own the URL by asking us to repeat a token; nothing else is answered to a GET."""
    value = request.query.get("zd_echo")
    if value is None or not _ECHO.match(value):
        detail = "zd_echo must be 1-128 letters, digits, '.', '_' or '-'"
        raise Problem(400, "malformed-query", "Malformed query", detail, [FieldError("zd_echo", detail)])
    return web.Response(text=value, content_type="text/plain", headers={"X-Content-Type-Options": "nosniff"})


async def handle(request: web.Request) -> web.Response:
    if request.method not in ("GET", "POST"):
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "POST"])
    deps = request.app[DEPS]
    secret = deps.settings.zadarma_api_secret
    if secret is None:
        raise not_configured("Zadarma (TOUCHPOINT_ZADARMA_API_SECRET)")
    if request.method == "GET":
        return _echo(request)
    require_form(request)
    body = await read_limited(request, deps.settings.max_body_bytes)
    form = first_values(decode_form(body))
    try:
        verify_zadarma(secret.get_secret_value().encode(), form, request.headers.get(SIGNATURE_HEADER))
    except UnsupportedEvent as exc:
        raise Problem(422, "unsupported-event", "Unsupported event", str(exc), [FieldError("event", str(exc))]) from exc
    except ZadarmaSignatureError as exc:
        raise unauthorized(str(exc), exc.field) from exc
    notify = validate_fields(MODELS[form["event"]], form)
    event = normalized(lambda: normalize_zadarma(notify, deps.clock(), call_context_of(deps.settings)))
    structlog.contextvars.bind_contextvars(event_id=event.event_id)
    await deps.publisher.publish([event])
    return web.Response(status=200)
