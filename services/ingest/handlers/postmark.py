"""POST /webhooks/postmark: Postmark inbound JSON behind HTTP Basic auth (docs/email.md).

Postmark retries anything but 200 (ten times over about ten hours) and stops at 403; so an unconfigured source
answers 403, while wrong credentials answer 401 and are retried once an operator fixes them."""

from __future__ import annotations

import structlog
from aiohttp import web

from services.ingest.deps import DEPS
from services.ingest.postmark import PostmarkAuthError, PostmarkInbound, check_basic_auth, normalize_postmark
from services.ingest.problems import not_configured, unauthorized
from services.ingest.read_body import parse_json_model, require_content_type
from services.ingest.read_mail_form import read_limited_stream


async def handle(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    user, password = deps.settings.postmark_user, deps.settings.postmark_password
    if not user or password is None:
        raise not_configured("Postmark (TOUCHPOINT_POSTMARK_USER and TOUCHPOINT_POSTMARK_PASSWORD)")
    try:
        check_basic_auth(request.headers.get("Authorization"), user, password.get_secret_value())
    except PostmarkAuthError as exc:
        problem = unauthorized(str(exc), "Authorization")
        problem.headers["WWW-Authenticate"] = 'Basic realm="touchpoint-postmark", charset="UTF-8"'
        raise problem from exc
    require_content_type(request, ["application/json"])
    body = await read_limited_stream(request, deps.settings.email_max_body_bytes)
    message = parse_json_model(PostmarkInbound, body)
    event = normalize_postmark(message, received_at=deps.clock(), domains=deps.settings.mail_domains)
    structlog.contextvars.bind_contextvars(event_id=event.event_id)
    await deps.publisher.publish([event])
    return web.json_response({"event_id": event.event_id, "status": "accepted"}, status=200)
