"""Postmark inbound webhooks: the HTTP Basic auth check and the JSON → `EmailEvent` transform. Pure.

Postmark signs nothing; the webhook URL carries Basic credentials (`https://user:password@host/webhooks/postmark`)
that we compare in constant time. The JSON is Postmark's parsed message; its `Headers` list holds the headers
it did not lift into fields of their own (Message-ID, In-Reply-To, References, Auto-Submitted, ...)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Sequence
from datetime import datetime
from email.utils import formataddr
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import Attachment, EmailEvent
from services.ingest.parse_email import (
    Body,
    Envelope,
    attachment_meta,
    bounded_text,
    build_event,
    header_facts,
    html_to_text,
    message_from_header_pairs,
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
    Headers: Annotated[list[PostmarkHeader], Field(max_length=1000)] = []
    Attachments: Annotated[list[PostmarkAttachment], Field(max_length=1000)] = []


class PostmarkAuthError(ValueError):
    """Missing or wrong Basic credentials."""


def check_basic_auth(header: str | None, user: str, password: str) -> None:
    """Constant-time comparison of both parts (no early exit that tells which one was wrong)."""
    if not header:
        raise PostmarkAuthError("Authorization header is missing (put user:password in the webhook URL)")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise PostmarkAuthError("Authorization must be Basic")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PostmarkAuthError("Authorization is not valid base64") from exc
    got_user, sep, got_password = decoded.partition(b":")
    user_ok = hmac.compare_digest(got_user, user.encode())
    password_ok = hmac.compare_digest(got_password, password.encode())
    if not (sep and user_ok and password_ok):
        raise PostmarkAuthError("wrong user or password")


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
