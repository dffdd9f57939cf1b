"""Who is on the other end (pure): our own number or mailbox, a known contact, or someone unknown, matched exactly
on the normalized address; contact and task ids are keyed hashes (key_ids.py), so a replay makes the same ones."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from schemas.events import CallStatus
from services.classifier.policy import Policy

MatchKind = Literal["own", "internal", "known", "unknown", "none"]


@dataclass(frozen=True, slots=True)
class Match:
    kind: MatchKind
    address: str | None = None
    contact_id: uuid.UUID | None = None


Lookup = Callable[[str], "uuid.UUID | None"]


def match_phone(direction: str, e164: str | None, policy: Policy, known: Lookup) -> Match:
    """`known`: the contact id of an address, if any. Internal calls and our own numbers are never contacts."""
    if direction == "internal":
        return Match("internal")
    if e164 is None:
        return Match("none")
    if policy.is_own_number(e164):
        return Match("own", e164)
    if (contact := known(e164)) is not None:
        return Match("known", e164, contact)
    return Match("unknown", e164)


def match_email(direction: str, address: str | None, policy: Policy, known: Lookup) -> Match:
    if direction == "internal":
        return Match("internal")
    if address is None:
        return Match("none")
    address = address.lower()
    if policy.is_own_mail(address):
        return Match("own", address)
    if (contact := known(address)) is not None:
        return Match("known", address, contact)
    return Match("unknown", address)


def call_makes_lead(match: Match, status: CallStatus, flagged: bool) -> bool:
    """An unknown counterpart becomes a lead only after a real conversation that is not flagged wrong/spam."""
    return match.kind == "unknown" and status == "answered" and not flagged
