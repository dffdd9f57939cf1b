"""POST /webhooks/mango/events/{call,summary,recording}: Mango Office VPBX notifications (docs/sources.md#mango).
Mango expects `{}` as the answer; it comes only after the Kafka ack."""

from __future__ import annotations

from typing import cast

import structlog
from aiohttp import web

from services.ingest.deps import DEPS
from services.ingest.handlers.shared import call_context_of, normalized
from services.ingest.mango import MODELS, MangoEventKind, MangoSignatureError, normalize_mango, verify_mango
from services.ingest.problems import not_configured, unauthorized
from services.ingest.read_body import read_limited
from services.ingest.read_form import decode_form, first_values, require_form, validate_json_field

PATH = "/webhooks/mango/events/{kind:call|summary|recording}"


async def handle(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    key, salt = deps.settings.mango_api_key, deps.settings.mango_api_salt
    if key is None or salt is None:
        raise not_configured("Mango Office (TOUCHPOINT_MANGO_API_KEY and TOUCHPOINT_MANGO_API_SALT)")
    kind = cast(MangoEventKind, request.match_info["kind"])
    require_form(request)
    body = await read_limited(request, deps.settings.max_body_bytes)
    form = first_values(decode_form(body))
    try:
        json_text = verify_mango(key.get_secret_value(), salt.get_secret_value(), form)
    except MangoSignatureError as exc:
        raise unauthorized(str(exc), exc.field) from exc
    event = validate_json_field(MODELS[kind], json_text, "json")
    call = normalized(lambda: normalize_mango(event, deps.clock(), call_context_of(deps.settings)))
    structlog.contextvars.bind_contextvars(event_id=call.event_id)
    await deps.publisher.publish([call])
    return web.json_response({})
