"""Sender verification for the generic signed JSON feed (DESIGN.md):

    X-Touchpoint-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

Checked on the raw bytes before anything is parsed, with a constant-time comparison and a replay window.
Several `v1=` values may be sent during a secret rotation; one matching is enough."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass


class SignatureError(ValueError):
    """Why a signature was refused; the message is safe to show to the sender."""


@dataclass(frozen=True, slots=True)
class ParsedSignature:
    timestamp: int
    signatures: tuple[str, ...]


def sign_generic(secret: bytes, timestamp: int, body: bytes) -> str:
    """The header value a sender computes; used by our sender script and tests."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def parse_signature_header(header: str) -> ParsedSignature:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError("signature header must be 't=<unix seconds>,v1=<hex>'")
        if name == "t":
            if not value.isdigit() or len(value) > 12:
                raise SignatureError("signature timestamp t must be unix seconds")
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value.lower())
    if timestamp is None:
        raise SignatureError("signature header has no t= timestamp")
    if not signatures:
        raise SignatureError("signature header has no v1= signature")
    return ParsedSignature(timestamp, tuple(signatures))


def verify_generic(secret: bytes, header: str | None, body: bytes, now: float, tolerance_s: int) -> int:
    """Returns the signed timestamp, or raises SignatureError."""
    if not header:
        raise SignatureError("X-Touchpoint-Signature header is missing")
    parsed = parse_signature_header(header)
    if abs(now - parsed.timestamp) > tolerance_s:
        raise SignatureError(f"signature timestamp is more than {tolerance_s}s away from now")
    expected = hmac.new(secret, f"{parsed.timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in parsed.signatures):
        raise SignatureError("signature does not match the body")
    return parsed.timestamp
