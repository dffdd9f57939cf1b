"""POST /webhooks/generic: the signed generic JSON feed (docs/generic-feed.md)."""

from __future__ import annotations

import structlog
from aiohttp import web

from services.ingest.deps import DEPS
from services.ingest.normalize_generic import GenericCallPayload, normalize_generic
from services.ingest.problems import not_configured, unauthorized
from services.ingest.read_body import parse_json_model, read_limited, require_content_type
from services.ingest.verify_signature import SignatureError, verify_generic


async def handle(request: web.Request) -> web.Response:
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
