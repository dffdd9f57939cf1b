"""Postmark inbound webhooks behind HTTP Basic auth (docs/email.md): the inbound JSON model, its pure transform
to `EmailEvent`, and the webhook."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from email.utils import formataddr
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from schemas.events import Attachment, EmailEvent
from services.ingest.deps import DEPS
from services.ingest.email.headers import (
    InvalidEmail,
    bounded_text,
    header_facts,
    html_to_text,
    message_from_header_pairs,
)
from services.ingest.email.mime import Body, Envelope, attachment_meta, build_event
from services.ingest.http.auth import require_basic_auth
from services.ingest.http.bodies import parse_json_model, read_limited_stream, require_content_type
from services.ingest.http.problems import FieldError, Problem
from services.ingest.http.webhook import (
    EMAIL_ACCEPTED_DOC,
    WEBHOOK_ERRORS,
    Webhook,
    accepted,
    publish_event,
    schema_ref,
)

_COLON_ZONE = re.compile(r"([+-]\d{2}):(\d{2})\s*$")

Text = Annotated[str, Field(max_length=1_000_000)]
Short = Annotated[str, Field(max_length=2000)]


class _Model(BaseModel):
    # Postmark adds fields over time; unknown ones are ignored rather than refused.
    model_config = ConfigDict(extra="ignore", frozen=True)


class PostmarkAddress(_Model):
    Email: Short = ""
    Name: Short = ""
    MailboxHash: Short = ""


class PostmarkHeader(_Model):
    Name: Short
    Value: Annotated[str, Field(max_length=100_000)]


class PostmarkAttachment(_Model):
    Name: Short = ""
    Content: str = Field("", description="base64")
    ContentType: Short = "application/octet-stream"
    ContentLength: Annotated[int, Field(ge=0)] = 0
    ContentID: Short = ""


class PostmarkInbound(_Model):
    """The fields of Postmark's inbound JSON we use (postmarkapp.com inbound webhook)."""

    MessageID: Annotated[str, Field(min_length=1, max_length=200)]
    From: Short = ""
    FromName: Short = ""
    FromFull: PostmarkAddress | None = None
    To: Text = ""
    ToFull: Annotated[list[PostmarkAddress], Field(max_length=1000)] = []
    Cc: Text = ""
    CcFull: Annotated[list[PostmarkAddress], Field(max_length=1000)] = []
    OriginalRecipient: Short = ""
    ReplyTo: Short = ""
    Subject: Text = ""
    Date: Short = ""
    TextBody: str | None = None
    HtmlBody: str | None = None
    # The headers Postmark did not lift into fields of their own (Message-ID, In-Reply-To, References, ...).
    Headers: Annotated[list[PostmarkHeader], Field(max_length=1000)] = []
    Attachments: Annotated[list[PostmarkAttachment], Field(max_length=1000)] = []


def _address_header(full: Sequence[PostmarkAddress], fallback: str) -> str:
    if full:
        return ", ".join(formataddr((a.Name, a.Email)) for a in full if a.Email)
    return fallback


def attachment_of(item: PostmarkAttachment) -> Attachment:
    """Size and digest of the decoded content; the content itself is dropped. Content that is not base64 is
    described by Postmark's ContentLength without a digest."""
    try:
        payload = base64.b64decode(item.Content, validate=True)
    except (binascii.Error, ValueError):
        meta = attachment_meta(item.Name or None, item.ContentType, b"")
        return meta.model_copy(update={"size": item.ContentLength, "sha256": None})
    return attachment_meta(item.Name or None, item.ContentType, payload)


def normalize_postmark(message: PostmarkInbound, *, received_at: datetime, domains: Sequence[str]) -> EmailEvent:
    sender = message.FromFull or PostmarkAddress(Email=message.From, Name=message.FromName)
    lifted = {"from", "to", "cc", "reply-to", "subject", "date"}
    pairs = [
        ("From", formataddr((sender.Name, sender.Email)) if sender.Email else ""),
        ("To", _address_header(message.ToFull, message.To)),
        ("Cc", _address_header(message.CcFull, message.Cc)),
        ("Reply-To", message.ReplyTo),
        ("Subject", message.Subject),
        # Postmark writes the zone as "-04:00"; RFC 5322 (and so the stdlib) reads only "-0400".
        ("Date", _COLON_ZONE.sub(r"\1\2", message.Date)),
        *((h.Name, h.Value) for h in message.Headers if h.Name.lower() not in lifted),
    ]
    facts = header_facts(message_from_header_pairs((n, v) for n, v in pairs if v))
    if message.TextBody:
        text, truncated = bounded_text(message.TextBody)
    elif message.HtmlBody:
        text, truncated = bounded_text(html_to_text(message.HtmlBody))
    else:
        text, truncated = None, False
    recipients = (message.OriginalRecipient,) if message.OriginalRecipient else ()
    return build_event(
        "postmark",
        facts,
        Body(text, truncated, tuple(attachment_of(a) for a in message.Attachments[:100])),
        Envelope(None, recipients),
        received_at=received_at,
        domains=domains,
        fallback_identity=hashlib.sha256(message.MessageID.encode()).digest(),
        provider_message_id=message.MessageID,
    )


async def handle(request: web.Request) -> web.Response:
    """Postmark retries anything but 200 (ten times over about ten hours) and stops at 403: an unconfigured
    source answers 403, wrong credentials 401, retried once an operator fixes them."""
    deps = request.app[DEPS]
    user, password = deps.settings.postmark_user, deps.settings.postmark_password
    if not user or password is None:
        raise SOURCE.not_configured()
    require_basic_auth(
        request.headers.get("Authorization"),
        user,
        password.get_secret_value(),
        missing_hint="put user:password in the webhook URL",
        realm="touchpoint-postmark",
    )
    require_content_type(request, SOURCE.content_types)
    body = await read_limited_stream(request, deps.settings.email_max_body_bytes)
    message = await deps.parsing.run(len(body), parse_json_model, PostmarkInbound, body)
    try:
        event = await deps.parsing.run(
            len(body), normalize_postmark, message, received_at=deps.clock(), domains=deps.settings.mail_domains
        )
    except InvalidEmail as exc:
        field = exc.header or "body"
        raise Problem(422, "invalid-event", "Event failed validation", str(exc), [FieldError(field, str(exc))]) from exc
    await publish_event(deps, event)
    return accepted(event, 200)


SOURCE = Webhook(
    name="postmark",
    title="Postmark",
    route="/webhooks/postmark",
    handler=handle,
    secrets=("postmark_user", "postmark_password"),
    content_types=("application/json",),
    schemas=(PostmarkInbound,),
    operations={
        "post": {
            "operationId": "postmarkInbound",
            "summary": "Postmark inbound webhook (HTTP Basic auth)",
            "security": [{"postmarkBasic": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": schema_ref(PostmarkInbound)}},
            },
            "responses": {"200": EMAIL_ACCEPTED_DOC, **WEBHOOK_ERRORS},
        }
    },
)
