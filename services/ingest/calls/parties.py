"""What every call normalizer shares (pure): which party is ours (`is_ours`), who the external party is, the
business direction; PBX-local times to UTC; deterministic event ids."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from schemas.events import Direction, PhoneAddress
from services.ingest.calls.phones import normalize_phone
from services.ingest.settings import IngestSettings

_INTERNAL_SCHEMES = ("client:", "sip:", "sips:", "user:")


@dataclass(frozen=True, slots=True)
class CallContext:
    """The company facts a normalizer needs (from settings)."""

    default_region: str
    timezone: ZoneInfo
    own_numbers: frozenset[str]


@lru_cache(maxsize=8)  # a memo of a pure function of hashable settings values, not shared state
def call_context(default_region: str, timezone: str, own_numbers: tuple[str, ...]) -> CallContext:
    normalized = (normalize_phone(raw, default_region) for raw in own_numbers)
    return CallContext(
        default_region=default_region,
        timezone=ZoneInfo(timezone),
        own_numbers=frozenset(p.e164 for p in normalized if p is not None and p.e164 is not None),
    )


def call_context_of(settings: IngestSettings) -> CallContext:
    return call_context(settings.default_region, settings.timezone, settings.own_numbers)


@dataclass(frozen=True, slots=True)
class Parties:
    direction: Direction
    counterpart: PhoneAddress | None
    our_number: PhoneAddress | None
    agent: str | None


def is_ours(party: PhoneAddress | None, ctx: CallContext) -> bool:
    """One of TOUCHPOINT_OWN_NUMBERS, or an internal address with no public number (an extension, a `client:`
    identity, a SIP user that is not a phone number)."""
    if party is None:
        return False
    if party.e164 is not None:
        return party.e164 in ctx.own_numbers
    return party.extension is not None or party.raw.lower().startswith(_INTERNAL_SCHEMES)


def agent_of(party: PhoneAddress | None) -> str | None:
    """The extension or client identity of our side, when it is not a public number."""
    if party is None or party.e164 is not None:
        return None
    if party.extension:
        return party.extension
    scheme, sep, rest = party.raw.partition(":")
    if sep and scheme.lower() in ("client", "sip", "sips", "user") and rest:
        return rest.split("@", 1)[0][:100] or None
    return None


def infer_direction(
    caller: PhoneAddress | None, callee: PhoneAddress | None, ctx: CallContext, hint: Direction
) -> Direction:
    """Ownership of the two parties decides; the provider's own notion of direction only breaks ties
    (e.g. when TOUCHPOINT_OWN_NUMBERS is not configured and both parties look external)."""
    caller_ours, callee_ours = is_ours(caller, ctx), is_ours(callee, ctx)
    if caller_ours and callee_ours:
        return "internal"
    if caller_ours and callee is not None:
        return "outbound"
    if callee_ours and caller is not None:
        return "inbound"
    return hint


def split_parties(
    direction: Direction,
    caller: PhoneAddress | None,
    callee: PhoneAddress | None,
    agent: str | None = None,
    our_number: PhoneAddress | None = None,
) -> Parties:
    """`our_number` overrides our side's address (e.g. the DID a client dialled, when the callee is an extension)."""
    if direction == "inbound":
        counterpart, ours = caller, callee
    elif direction in ("outbound", "unknown"):
        counterpart, ours = callee, caller
    else:
        counterpart, ours = None, caller
    return Parties(
        direction=direction,
        counterpart=counterpart,
        our_number=our_number or ours,
        agent=agent or agent_of(ours),
    )


def local_to_utc(naive: datetime, zone: ZoneInfo) -> datetime:
    """A PBX wall-clock time (no offset) read in the configured zone; an ambiguous time in the autumn
    fold is read as the first occurrence (fold=0), a time in the spring gap keeps the pre-gap offset."""
    return naive.replace(tzinfo=zone).astimezone(UTC)


def digest_event_id(source: str, *parts: str) -> str:
    """`<source>:<40 hex>`: stable for the same provider fields, safe whatever characters they contain."""
    identity = "\x1f".join(parts)
    return f"{source}:" + hashlib.sha256(identity.encode()).hexdigest()[:40]
