"""Mailgun routes `forward()` (docs/email.md): the signature over `timestamp + token`, the pure form → `EmailEvent`
transform, and the webhook."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from schemas.events import Attachment, EmailEvent
from services.ingest.deps import DEPS, IngestDeps
from services.ingest.email.headers import InvalidEmail, bounded_text, header_facts, message_from_header_pairs
from services.ingest.email.mime import Body, Envelope, build_event, event_from_mime
from services.ingest.email.replay_cache import Claim, Posted, TokenStoreUnavailable
from services.ingest.http.bodies import require_content_type
from services.ingest.http.forms import FORM, MULTIPART, ReceivedForm, read_form_post
from services.ingest.http.problems import FieldError, Problem, unauthorized
from services.ingest.http.webhook import (
    EMAIL_ACCEPTED_DOC,
    WEBHOOK_ERRORS,
    Webhook,
    accepted,
    problem_response,
    publish_event,
)

# Mailgun also posts each of these headers as a field of its own; used when `message-headers` is absent.
_HEADER_FIELDS = (
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Subject",
    "Date",
    "Message-Id",
    "In-Reply-To",
    "References",
    "Auto-Submitted",
    "Precedence",
    "List-Unsubscribe",
    "Content-Type",
    "X-Autoreply",
    "X-Autorespond",
    "X-Failed-Recipients",
)


class MailgunSignatureError(ValueError):
    """Why a Mailgun request was refused as unauthenticated; `field` names the offending form field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidMailgunForm(ValueError):
    """A signed form that cannot become an event; `field` names the offending form field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def sign_mailgun(signing_key: bytes, timestamp: str, token: str) -> str:
    """What Mailgun computes; used by tests and docs/email.md's example."""
    return hmac.new(signing_key, f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class MailgunSignature:
    timestamp: int
    token: str


def verify_mailgun(signing_key: bytes, fields: Mapping[str, str], now: float, tolerance_s: int) -> MailgunSignature:
    """Checks `timestamp`, `token` and `signature` (constant-time) and the timestamp window; raises
    MailgunSignatureError. The body is not signed: a fresh timestamp and a token never seen before (the caller's
    TokenClaims) are what stop a captured request from being replayed."""
    timestamp, token, signature = (fields.get(name, "") for name in ("timestamp", "token", "signature"))
    for name, value in (("timestamp", timestamp), ("token", token), ("signature", signature)):
        if not value:
            raise MailgunSignatureError(f"form field {name} is missing", name)
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise MailgunSignatureError("timestamp must be unix seconds", "timestamp")
    if len(token) > 500:
        raise MailgunSignatureError("token is too long", "token")
    expected = sign_mailgun(signing_key, timestamp, token)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise MailgunSignatureError("signature does not match timestamp and token", "signature")
    if abs(now - int(timestamp)) > tolerance_s:
        raise MailgunSignatureError(f"timestamp is more than {tolerance_s}s away from now", "timestamp")
    return MailgunSignature(int(timestamp), token)


def header_pairs(fields: Mapping[str, str]) -> list[tuple[str, str]]:
    """The message's headers: `message-headers` (a JSON list of [name, value], order kept) when posted, else the
    per-header fields Mailgun also posts."""
    raw = fields.get("message-headers")
    if raw is None:
        by_name = {name.lower(): value for name, value in fields.items()}
        return [(name, by_name[name.lower()]) for name in _HEADER_FIELDS if name.lower() in by_name]
    try:
        decoded = json.loads(raw)
    except ValueError as exc:
        raise InvalidMailgunForm(f"message-headers is not JSON: {exc}", "message-headers") from exc
    if not isinstance(decoded, list) or not all(
        isinstance(item, list) and len(item) == 2 and all(isinstance(v, str) for v in item) for item in decoded
    ):
        raise InvalidMailgunForm("message-headers must be a JSON list of [name, value] strings", "message-headers")
    return [(name, value) for name, value in decoded]


def normalize_mailgun(
    fields: Mapping[str, str],
    attachments: Sequence[Attachment],
    *,
    received_at: datetime,
    domains: Sequence[str],
) -> EmailEvent:
    """A verified `forward()` post as an event: the parsed form (headers from `message-headers`, text from
    `body-plain`), or the raw message of a route URL ending in `mime` (`body-mime`)."""
    envelope = Envelope(fields.get("sender") or None, tuple(r for r in fields.get("recipient", "").split(",") if r))
    if "body-mime" in fields:
        return event_from_mime(
            "mailgun", fields["body-mime"].encode(), envelope, received_at=received_at, domains=domains
        )
    if "recipient" not in fields:
        raise InvalidMailgunForm("form field recipient is missing", "recipient")
    facts = header_facts(message_from_header_pairs(header_pairs(fields)))
    plain = fields.get("body-plain")
    text, truncated = bounded_text(plain) if plain is not None else (None, False)
    identity = "\x00".join(
        fields.get(name, "") for name in ("sender", "recipient", "from", "subject", "Date", "body-plain")
    )
    return build_event(
        "mailgun",
        facts,
        Body(text, truncated, tuple(attachments)),
        envelope,
        received_at=received_at,
        domains=domains,
        fallback_identity=identity.encode("utf-8", "replace"),
    )


# Mailgun treats 200 as delivered, 406 as "rejected, do not retry" and anything else as "retry for 8 hours": input
# that can never be accepted is answered 406 (the problem body still names the field); 401 and 503 are retried.
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
        raise SOURCE.not_configured()
    require_content_type(request, SOURCE.content_types)
    form = await read_form_post(request, deps.settings.email_max_body_bytes)
    now = deps.clock()
    try:
        signed = verify_mailgun(
            key.get_secret_value().encode(), form.fields, now.timestamp(), deps.settings.signature_tolerance_s
        )
    except MailgunSignatureError as exc:
        raise unauthorized(str(exc), exc.field) from exc
    # Claimed before publishing, atomically and across processes: of concurrent posts with one token, one
    # goes on. Kept past the timestamp window, after which the timestamp check refuses the token anyway.
    expires_at = datetime.fromtimestamp(signed.timestamp + 2 * deps.settings.signature_tolerance_s, UTC)
    posted = Posted("mailgun", signed.token, content_digest(form), expires_at)
    try:
        claim = await deps.mailgun_tokens.claim(posted)
    except TokenStoreUnavailable as exc:
        raise _try_later(deps, "token-store-unavailable", "Replay check temporarily unavailable", str(exc)) from exc
    if claim is Claim.REPLAYED:
        raise unauthorized("token was already used with other content: a replayed request", "token")
    if claim is Claim.IN_FLIGHT:  # Mailgun's retry while its first post still waits for the broker
        raise _try_later(deps, "in-flight", "The same post is being accepted", "retry after Retry-After")
    if claim is Claim.ACCEPTED:  # a retry of an accepted post (its answer was lost): the same answer, no publish
        return accepted(await _normalize(deps, form, now), 200)
    try:
        response = await _accept(deps, form, now)
    except BaseException:
        # Only an accepted post uses its token up: Mailgun retries a 503 (or a dropped connection) with it.
        await asyncio.shield(deps.mailgun_tokens.release("mailgun", signed.token))
        raise
    await asyncio.shield(deps.mailgun_tokens.accept("mailgun", signed.token))
    return response


def content_digest(form: ReceivedForm) -> bytes:
    """What a post carries, for telling Mailgun's retry (same content) from a replay (other content under a
    used token). The timestamp and signature are left out: they are verified on their own and may be fresh."""
    digest = hashlib.sha256()
    for name, value in sorted(form.fields.items()):
        if name not in ("timestamp", "signature"):
            digest.update(f"{len(name)}:{name}{len(value)}:".encode() + value.encode("utf-8", "surrogatepass"))
    for file in form.files:
        digest.update(file.model_dump_json().encode())
    return digest.digest()


def _try_later(deps: IngestDeps, kind: str, title: str, detail: str) -> Problem:
    return Problem(503, kind, title, detail, (), {"Retry-After": str(deps.settings.retry_after_s)})


async def _accept(deps: IngestDeps, form: ReceivedForm, now: datetime) -> web.Response:
    event = await _normalize(deps, form, now)
    await publish_event(deps, event)
    return accepted(event, 200)


async def _normalize(deps: IngestDeps, form: ReceivedForm, now: datetime) -> EmailEvent:
    try:
        return await deps.parsing.run(
            sum(len(value) for value in form.fields.values()),
            normalize_mailgun,
            form.fields,
            form.files,
            received_at=now,
            domains=deps.settings.mail_domains,
        )
    except InvalidMailgunForm as exc:
        raise Problem(
            422, "invalid-event", "Event failed validation", str(exc), [FieldError(exc.field, str(exc))]
        ) from exc
    except InvalidEmail as exc:
        field = "body-mime" if "body-mime" in form.fields else "message-headers"
        if exc.header is not None:
            field = f"{field}.{exc.header}"
        raise Problem(422, "invalid-event", "Event failed validation", str(exc), [FieldError(field, str(exc))]) from exc


_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["timestamp", "token", "signature", "recipient"],
    "properties": {
        "timestamp": {"type": "string", "pattern": "^[0-9]{1,12}$", "description": "unix seconds"},
        "token": {"type": "string", "maxLength": 500, "description": "random, used once"},
        "signature": {"type": "string", "description": 'hex HMAC-SHA256(signing key, "<timestamp><token>")'},
        "recipient": {"type": "string", "description": "RCPT TO, comma-separated"},
        "sender": {"type": "string", "description": "MAIL FROM"},
        "from": {"type": "string"},
        "subject": {"type": "string"},
        "body-plain": {"type": "string"},
        "message-headers": {"type": "string", "description": "JSON list of [name, value], order kept"},
        "body-mime": {"type": "string", "description": "the raw message, for route URLs ending in `mime`"},
    },
}
_MULTIPART_SCHEMA: dict[str, Any] = {
    **_FORM_SCHEMA,
    "properties": {
        **_FORM_SCHEMA["properties"],
        "attachment-1": {
            "type": "string",
            "format": "binary",
            "description": "attachment-1..N: only name, type, size and sha256 are kept",
        },
    },
}

SOURCE = Webhook(
    name="mailgun",
    title="Mailgun",
    route="/webhooks/mailgun",
    handler=handle,
    secrets=("mailgun_signing_key",),
    content_types=(FORM, MULTIPART),
    operations={
        "post": {
            "operationId": "mailgunInbound",
            "summary": "Mailgun routes forward(): an inbound message (signed form fields)",
            "requestBody": {
                "required": True,
                "content": {FORM: {"schema": _FORM_SCHEMA}, MULTIPART: {"schema": _MULTIPART_SCHEMA}},
            },
            "responses": {
                "200": EMAIL_ACCEPTED_DOC,
                **{code: WEBHOOK_ERRORS[code] for code in ("401", "403", "503")},
                "406": problem_response(
                    "Permanently unacceptable (malformed, invalid, too large, wrong type): Mailgun does not retry a "
                    "406; the problem's type and `errors` tell which"
                ),
            },
        }
    },
)
