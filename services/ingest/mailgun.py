"""Mailgun routes `forward()`: the signature check, the token replay cache and the form → `EmailEvent` transform.

Mailgun signs `timestamp + token` (not the body) with the account's webhook signing key:
`signature = hex(HMAC-SHA256(key, "<timestamp><token>"))`. The body itself is not covered, so a fresh timestamp
and a token never seen before are what stop a captured request from being replayed. All pure; the handler in
handlers/mailgun.py does the I/O."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from schemas.events import Attachment, EmailEvent
from services.ingest.parse_email import (
    Body,
    Envelope,
    bounded_text,
    build_event,
    event_from_mime,
    header_facts,
    message_from_header_pairs,
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
    MailgunSignatureError. The replay check is the caller's, against its TokenReplayCache."""
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


class TokenReplayCache:
    """Tokens of accepted Mailgun requests, each remembered until its timestamp leaves the window (after that
    the timestamp check refuses it anyway). Bounded: past `max_entries` the oldest are forgotten; a replay of a
    forgotten token would only repeat an event id the classifier already applied. One per process, built by the
    composition root; processes behind a load balancer each have their own (docs/email.md)."""

    def __init__(self, max_entries: int = 100_000, ttl_s: float = 600.0) -> None:
        self._max_entries = max_entries
        self._ttl_s = ttl_s
        self._expires: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._expires)

    def seen(self, token: str, now: float) -> bool:
        self._evict(now)
        return token in self._expires

    def remember(self, token: str, now: float) -> None:
        self._evict(now)
        self._expires[token] = now + self._ttl_s
        self._expires.move_to_end(token)
        while len(self._expires) > self._max_entries:
            self._expires.popitem(last=False)

    def _evict(self, now: float) -> None:
        while self._expires:
            token, expires = next(iter(self._expires.items()))
            if expires > now:
                return
            del self._expires[token]


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
