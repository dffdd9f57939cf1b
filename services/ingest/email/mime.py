"""RFC 5322 → `EmailEvent` (pure), shared by SMTP, Mailgun and Postmark: the body and attachments, what kind
of mail it is (auto-reply, bounce; docs/email.md), its direction and the event."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import errors as email_errors
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.policy import Policy

from pydantic import ValidationError

from schemas.events import Attachment, EmailDirection, EmailEvent, EmailSource
from services.ingest.email.headers import (
    HEADER_ERRORS,
    MAX_RECIPIENTS,
    HeaderFacts,
    InvalidEmail,
    bounded_text,
    first_header,
    header_facts,
    html_to_text,
    normalize_address,
    one_line,
)
from services.runtime.company import is_our_address

MAX_ATTACHMENTS = 100
# Every MIME part becomes a Python object while the message is parsed: 25 MiB of tiny parts would be a million
# of them (seconds of CPU, a gigabyte of memory). No mail client nests or splits a message anywhere near this.
MAX_MIME_PARTS = 1000
MAX_MIME_DEPTH = 50

_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|auto:|out of (the )?office|abwesenheitsnotiz|"
    r"automatische antwort|r[ée]ponse automatique|absence|автоответ|автоматический ответ)",
    re.IGNORECASE,
)
_BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster"})
_MSG_ID = re.compile(r"<[^<>\s]+>")


# The header (or envelope part) each event field is read from, to name it when the field is refused.
_HEADER_OF_FIELD = {
    "message_id": "Message-ID",
    "in_reply_to": "In-Reply-To",
    "references": "References",
    "sender": "From",
    "to": "To",
    "cc": "Cc",
    "reply_to": "Reply-To",
    "envelope_from": "MAIL FROM",
    "envelope_to": "RCPT TO",
    "counterpart": "From",
    "our_address": "To",
    "subject": "Subject",
    "auto_submitted": "Auto-Submitted",
    "precedence": "Precedence",
    "text": "body",
    "attachments": "attachments",
    "provider_message_id": "MessageID",
}


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the SMTP envelope (or the provider, for the envelope it saw) said: MAIL FROM and RCPT TO."""

    mail_from: str | None = None
    rcpt_tos: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Body:
    text: str | None = None
    truncated: bool = False
    attachments: tuple[Attachment, ...] = ()
    final_recipients: tuple[str, ...] = ()  # Final-Recipient fields of a delivery-status report


# --- body and attachments ---------------------------------------------------------------------------------------


def attachment_meta(filename: str | None, content_type: str, payload: bytes) -> Attachment:
    name = one_line(filename)[:255] or None if filename else None
    return Attachment(
        filename=name,
        content_type=(one_line(content_type).lower() or "application/octet-stream")[:200],
        size=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
    )


def _part_text(part: Message) -> str | None:
    try:
        content = part.get_content()  # type: ignore[attr-defined]  # EmailMessage under policy.default
    except (LookupError, ValueError, AssertionError, email_errors.MessageError):
        # Unknown or lying charset: the bytes as UTF-8 with replacements beat losing the body.
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else None
    return content if isinstance(content, str) else None


def _is_attachment(part: Message) -> bool:
    try:
        disposition = part.get_content_disposition()
        filename = part.get_filename()
    except HEADER_ERRORS:
        return True
    return disposition == "attachment" or filename is not None or part.get_content_maintype() not in ("text",)


def _final_recipients(part: Message) -> list[str]:
    found = []
    payload = part.get_payload()
    for block in payload if isinstance(payload, list) else []:
        if isinstance(block, Message):
            raw = first_header(block, "Final-Recipient") or first_header(block, "Original-Recipient") or ""
            address = normalize_address(raw.partition(";")[2] or raw)
            if address is not None:
                found.append(address)
    return found


def message_body(msg: Message) -> Body:
    """The first text/plain part (else the first text/html, as text) bounded to MAX_EMAIL_TEXT, and metadata of
    every attachment. An attached message (a bounce's returned original) is one attachment, not more text."""
    found = _BodyParts()
    _visit(msg, found)
    text = found.plain if found.plain is not None else (html_to_text(found.html) if found.html is not None else None)
    if text is None:
        return Body(None, False, tuple(found.attachments), tuple(found.final_recipients))
    bounded, truncated = bounded_text(text)
    return Body(bounded, truncated, tuple(found.attachments), tuple(found.final_recipients))


@dataclass
class _BodyParts:
    plain: str | None = None
    html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    final_recipients: list[str] = field(default_factory=list)

    def attach(self, filename: str | None, content_type: str, payload: bytes) -> None:
        if len(self.attachments) < MAX_ATTACHMENTS:
            self.attachments.append(attachment_meta(filename, content_type, payload))


def _visit(part: Message, found: _BodyParts, depth: int = 0) -> None:
    content_type = part.get_content_type()
    if content_type == "message/delivery-status":
        found.final_recipients.extend(_final_recipients(part))
        return
    if content_type == "message/rfc822" or (part.get_content_maintype() == "message" and depth > 0):
        found.attach(_safe_filename(part), content_type, _serialized(part))
        return
    if part.is_multipart():
        if depth < 20:  # deeper nesting than any mail client produces is not worth following
            for child in part.get_payload():
                if isinstance(child, Message):
                    _visit(child, found, depth + 1)
        return
    if _is_attachment(part) or content_type not in ("text/plain", "text/html"):
        payload = part.get_payload(decode=True)
        found.attach(_safe_filename(part), content_type, payload if isinstance(payload, bytes) else b"")
    elif content_type == "text/plain" and found.plain is None:
        found.plain = _part_text(part)
    elif content_type == "text/html" and found.html is None:
        found.html = _part_text(part)


def _serialized(part: Message) -> bytes:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, Message):
        raw = part.get_payload(decode=True)
        return raw if isinstance(raw, bytes) else b""
    try:
        return inner.as_bytes()
    except (*HEADER_ERRORS, UnicodeError):
        return b""


def _safe_filename(part: Message) -> str | None:
    try:
        return part.get_filename()
    except HEADER_ERRORS:
        return None


class TooComplex(InvalidEmail):
    """More MIME parts, or deeper nesting, than MAX_MIME_PARTS / MAX_MIME_DEPTH: refused while parsing."""


class _CountedPart(EmailMessage):
    depth = 0

    def attach(self, payload: _CountedPart) -> None:  # type: ignore[override]  # the parser attaches ours only
        payload.depth = self.depth + 1
        if payload.depth > MAX_MIME_DEPTH:
            raise TooComplex(f"the message nests MIME parts more than {MAX_MIME_DEPTH} deep")
        super().attach(payload)


class _PartBudget:
    """The parser's message factory for one message: counts the parts as the parser creates them, so a message
    over the limit is refused before the rest of it is built."""

    def __init__(self) -> None:
        self.parts = -1  # the message itself is not one of its parts

    def __call__(self, policy: Policy) -> _CountedPart:  # `policy`: the parser passes it by that name
        self.parts += 1
        if self.parts > MAX_MIME_PARTS:
            raise TooComplex(f"the message has more than {MAX_MIME_PARTS} MIME parts")
        return _CountedPart(policy)


def parse_message(raw: bytes) -> EmailMessage:
    """Raises TooComplex past MAX_MIME_PARTS parts or MAX_MIME_DEPTH levels of nesting."""
    msg = message_from_bytes(raw, policy=policy.default.clone(message_factory=_PartBudget()))
    assert isinstance(msg, EmailMessage)  # the factory builds EmailMessage
    return msg


# --- classification and direction -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Classification:
    is_bounce: bool
    is_auto_reply: bool


def classify(facts: HeaderFacts, envelope: Envelope) -> Classification:
    """Bounce: a delivery-status report (RFC 3464), an Exim X-Failed-Recipients, or mail from MAILER-DAEMON /
    postmaster. Auto-reply (not counted for bounces): RFC 3834 Auto-Submitted other than "no", X-Autoreply /
    X-Autorespond, Precedence auto_reply, or a subject of the usual out-of-office forms."""
    sender_local = (facts.sender.address.partition("@")[0]) if facts.sender else ""
    envelope_local = (envelope.mail_from or "").partition("@")[0].lower()
    is_bounce = (
        facts.delivery_report
        or bool(facts.failed_recipients)
        or sender_local in _BOUNCE_SENDERS
        or envelope_local in _BOUNCE_SENDERS
    )
    is_auto_reply = not is_bounce and (
        (facts.auto_submitted is not None and facts.auto_submitted.split(";")[0].strip() != "no")
        or facts.x_autoreply
        or facts.precedence == "auto_reply"
        or bool(_AUTO_REPLY_SUBJECT.match(facts.subject))
    )
    return Classification(is_bounce=is_bounce, is_auto_reply=is_auto_reply)


@dataclass(frozen=True, slots=True)
class Parties:
    direction: EmailDirection
    counterpart: str | None
    our_address: str | None


def parties(facts: HeaderFacts, envelope: Envelope, domains: Sequence[str], bounced_to: Sequence[str] = ()) -> Parties:
    """Direction from our mail domains: from us to outside is outbound (counterpart: the first external To, Cc
    or envelope recipient), from outside to us is inbound (counterpart: the sender), us to us is internal.
    A bounce is about the recipient that bounced, so that recipient is its counterpart when it is external."""
    sender = facts.sender.address if facts.sender else normalize_address(envelope.mail_from)
    envelope_to = [a for raw in envelope.rcpt_tos if (a := normalize_address(raw)) is not None]
    recipients = [a.address for a in (*facts.to, *facts.cc)] + envelope_to
    if not domains or sender is None:
        return Parties("unknown", None, next((r for r in envelope_to if domains and is_our_address(r, domains)), None))
    ours = [r for r in [*envelope_to, *recipients] if is_our_address(r, domains)]
    external_bounced = [a for a in bounced_to if not is_our_address(a, domains)]
    if external_bounced:  # often sent by our own MTA's MAILER-DAEMON, so checked before the sender's domain
        return Parties("inbound", external_bounced[0], ours[0] if ours else None)
    if is_our_address(sender, domains):
        external = [r for r in recipients if not is_our_address(r, domains)]
        if not external:
            return Parties("internal", None, sender)
        return Parties("outbound", external[0], sender)
    return Parties("inbound", sender, ours[0] if ours else None)


# --- the event --------------------------------------------------------------------------------------------------


def email_event_id(source: EmailSource, facts: HeaderFacts, fallback_identity: bytes) -> str:
    """The same message always gets the same id from one source: its Message-ID with its From address (a reused
    Message-ID from another sender stays a different message); without a Message-ID, a digest of what the
    provider gave us (raw bytes for SMTP). Recipients are left out on purpose: a message delivered to two of
    our mailboxes is one interaction, not two."""
    if facts.message_id is not None:
        identity = f"{facts.message_id}|{facts.sender.address if facts.sender else ''}".encode()
    else:
        identity = b"no-message-id|" + fallback_identity
    return f"{source}:" + hashlib.sha256(identity).hexdigest()[:40]


def build_event(
    source: EmailSource,
    facts: HeaderFacts,
    body: Body,
    envelope: Envelope,
    *,
    received_at: datetime,
    domains: Sequence[str],
    fallback_identity: bytes,
    provider_message_id: str | None = None,
) -> EmailEvent:
    kind = classify(facts, envelope)
    who = parties(
        facts, envelope, domains, (*body.final_recipients, *facts.failed_recipients) if kind.is_bounce else ()
    )
    envelope_from = normalize_address(envelope.mail_from)
    envelope_to = tuple(dict.fromkeys(a for raw in envelope.rcpt_tos if (a := normalize_address(raw)) is not None))
    try:
        return _email_event(
            source,
            facts,
            body,
            kind,
            who,
            envelope_from,
            envelope_to,
            received_at,
            fallback_identity,
            provider_message_id,
        )
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        header = _HEADER_OF_FIELD.get(str(first["loc"][0]), str(first["loc"][0])) if first["loc"] else None
        raise InvalidEmail(f"{header or 'the message'}: {first['msg']}", header) from exc


def _email_event(
    source: EmailSource,
    facts: HeaderFacts,
    body: Body,
    kind: Classification,
    who: Parties,
    envelope_from: str | None,
    envelope_to: tuple[str, ...],
    received_at: datetime,
    fallback_identity: bytes,
    provider_message_id: str | None,
) -> EmailEvent:
    return EmailEvent(
        event_id=email_event_id(source, facts, fallback_identity),
        source=source,
        message_id=facts.message_id,
        in_reply_to=facts.in_reply_to,
        references=facts.references,
        direction=who.direction,
        sender=facts.sender,
        to=facts.to,
        cc=facts.cc,
        reply_to=facts.reply_to,
        envelope_from=envelope_from,
        envelope_to=envelope_to[:MAX_RECIPIENTS],
        counterpart=who.counterpart,
        our_address=who.our_address,
        subject=facts.subject,
        sent_at=facts.sent_at,
        received_at=received_at.astimezone(UTC),
        auto_submitted=facts.auto_submitted,
        precedence=facts.precedence,
        list_unsubscribe=facts.list_unsubscribe,
        is_bounce=kind.is_bounce,
        is_auto_reply=kind.is_auto_reply,
        text=body.text,
        text_truncated=body.truncated,
        attachments=body.attachments,
        provider_message_id=one_line(provider_message_id)[:200] or None if provider_message_id else None,
    )


def event_from_mime(
    source: EmailSource, raw: bytes, envelope: Envelope, *, received_at: datetime, domains: Sequence[str]
) -> EmailEvent:
    """A whole RFC 5322 message (SMTP DATA, Mailgun `body-mime`) as an event."""
    if not raw.strip():
        raise InvalidEmail("the message is empty")
    msg = parse_message(raw)
    facts = header_facts(msg)
    return build_event(
        source,
        facts,
        message_body(msg),
        envelope,
        received_at=received_at,
        domains=domains,
        fallback_identity=raw,
    )
