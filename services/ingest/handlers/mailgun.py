"""POST /webhooks/mailgun: Mailgun routes `forward()` (urlencoded, or multipart with attachments; docs/email.md).

Mailgun treats 200 as delivered, 406 as "rejected, do not retry" and anything else as "retry for 8 hours". So
input that can never be accepted (malformed, invalid, too large, wrong type) is answered 406, with the problem
body still naming the field; 401 (a key mix-up an operator can fix) and 503 are left for Mailgun to retry."""

from __future__ import annotations

import dataclasses

import structlog
from aiohttp import web

from services.ingest.deps import DEPS, IngestDeps
from services.ingest.mailgun import (
    InvalidMailgunForm,
    MailgunSignatureError,
    normalize_mailgun,
    verify_mailgun,
)
from services.ingest.parse_email import InvalidEmail
from services.ingest.problems import FieldError, Problem, not_configured, unauthorized
from services.ingest.read_body import require_content_type
from services.ingest.read_mail_form import FORM_TYPES, read_form

PERMANENT = frozenset({400, 413, 415, 422})
MAILGUN_REJECT = 406


async def handle(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    try:
        return await _handle(request, deps)
    except Problem as problem:
        if problem.status in PERMANENT:
            raise dataclasses.replace(problem, status=MAILGUN_REJECT) from problem
        raise


async def _handle(request: web.Request, deps: IngestDeps) -> web.Response:
    key = deps.settings.mailgun_signing_key
    if key is None:
        raise not_configured("Mailgun (TOUCHPOINT_MAILGUN_SIGNING_KEY)")
    require_content_type(request, FORM_TYPES)
    form = await read_form(request, deps.settings.email_max_body_bytes)
    now = deps.clock()
    try:
        signed = verify_mailgun(
            key.get_secret_value().encode(), form.fields, now.timestamp(), deps.settings.signature_tolerance_s
        )
    except MailgunSignatureError as exc:
        raise unauthorized(str(exc), exc.field) from exc
    if deps.mailgun_tokens.seen(signed.token, now.timestamp()):
        raise unauthorized("token was already used: a replayed request", "token")
    try:
        event = normalize_mailgun(form.fields, form.files, received_at=now, domains=deps.settings.mail_domains)
    except InvalidMailgunForm as exc:
        raise Problem(
            422, "invalid-event", "Event failed validation", str(exc), [FieldError(exc.field, str(exc))]
        ) from exc
    except InvalidEmail as exc:
        raise Problem(
            422, "invalid-event", "Event failed validation", str(exc), [FieldError("body-mime", str(exc))]
        ) from exc
    structlog.contextvars.bind_contextvars(event_id=event.event_id)
    await deps.publisher.publish([event])
    # Only an accepted token counts as used: Mailgun may retry a 503 with the same one.
    deps.mailgun_tokens.remember(signed.token, now.timestamp())
    return web.json_response({"event_id": event.event_id, "status": "accepted"}, status=200)
