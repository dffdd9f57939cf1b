"""POST /webhooks/freeswitch: mod_json_cdr call detail records, one per leg (docs/sources.md#freeswitch)."""

from __future__ import annotations

import structlog
from aiohttp import web

from services.ingest.deps import DEPS
from services.ingest.freeswitch import (
    ACCEPTED_TYPES,
    FORM_TYPE,
    BodyError,
    CdrError,
    CredentialsError,
    JsonCdr,
    cdr_json,
    normalize_freeswitch,
    verify_basic,
)
from services.ingest.handlers.shared import call_context_of, normalized
from services.ingest.problems import FieldError, Problem, bad_request, not_configured, unauthorized
from services.ingest.read_body import read_limited
from services.ingest.read_form import decode_form, require_form, validate_json_field

CHALLENGE = {"WWW-Authenticate": 'Basic realm="touchpoint", charset="UTF-8"'}


async def handle(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    user, password = deps.settings.freeswitch_user, deps.settings.freeswitch_password
    if user is None or password is None:
        raise not_configured("FreeSWITCH (TOUCHPOINT_FREESWITCH_USER and TOUCHPOINT_FREESWITCH_PASSWORD)")
    try:
        verify_basic(user, password.get_secret_value(), request.headers.get("Authorization"))
    except CredentialsError as exc:
        problem = unauthorized(str(exc), "Authorization")
        problem.headers.update(CHALLENGE)
        raise problem from exc
    require_form(request, ACCEPTED_TYPES)
    body = await read_limited(request, deps.settings.max_body_bytes)
    form_value = None
    if request.content_type == FORM_TYPE:
        form_value = decode_form(body).get("cdr")
    try:
        raw_json = cdr_json(request.content_type, body, form_value)
    except BodyError as exc:
        raise bad_request(str(exc), exc.field) from exc
    field = "body" if request.content_type != FORM_TYPE and not body.startswith(b"cdr=") else "cdr"
    cdr = validate_json_field(JsonCdr, raw_json, field)
    try:
        event = normalized(lambda: normalize_freeswitch(cdr, deps.clock(), call_context_of(deps.settings)))
    except CdrError as exc:
        detail = str(exc)
        raise Problem(422, "invalid-event", "Event failed validation", detail, [FieldError(exc.field, detail)]) from exc
    structlog.contextvars.bind_contextvars(event_id=event.event_id)
    await deps.publisher.publish([event])
    return web.json_response({"event_id": event.event_id, "status": "accepted"}, status=202)
