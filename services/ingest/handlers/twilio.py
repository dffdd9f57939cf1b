"""POST /webhooks/twilio: Twilio Voice status and recording status callbacks (docs/sources.md#twilio)."""

from __future__ import annotations

import structlog
from aiohttp import web

from services.ingest.deps import DEPS
from services.ingest.handlers.shared import call_context_of, normalized
from services.ingest.problems import not_configured, unauthorized
from services.ingest.read_body import read_limited
from services.ingest.read_form import decode_form, first_values, require_form, validate_fields
from services.ingest.twilio import (
    SETTINGS_HEADER,
    SIGNATURE_HEADER,
    TwilioCallback,
    TwilioSignatureError,
    normalize_twilio,
    verify_twilio,
)


async def handle(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    token = deps.settings.twilio_auth_token
    if token is None:
        raise not_configured("Twilio (TOUCHPOINT_TWILIO_AUTH_TOKEN)")
    require_form(request)
    body = await read_limited(request, deps.settings.max_body_bytes)
    form = decode_form(body)
    public_url = deps.settings.public_base_url.rstrip("/") + request.raw_path
    try:
        verify_twilio(
            token.get_secret_value().encode(),
            public_url,
            form.items(),
            request.headers.get(SIGNATURE_HEADER),
            request.headers.get(SETTINGS_HEADER),
        )
    except TwilioSignatureError as exc:
        raise unauthorized(str(exc), SIGNATURE_HEADER) from exc
    callback = validate_fields(TwilioCallback, first_values(form))
    event = normalized(lambda: normalize_twilio(callback, deps.clock(), call_context_of(deps.settings)))
    structlog.contextvars.bind_contextvars(event_id=event.event_id)
    await deps.publisher.publish([event])
    return web.json_response({"event_id": event.event_id, "status": "accepted"}, status=202)
