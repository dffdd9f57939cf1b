"""The signed generic JSON feed for any PBX (docs/generic-feed.md): `X-Touchpoint-Signature`, the wire model,
the pure normalization to `CallEvent`, and the webhook."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from schemas.events import NO_CONTROLS, CallEvent, CallPhase, CallStatus
from services.ingest.calls.phones import normalize_phone
from services.ingest.deps import DEPS
from services.ingest.http.bodies import parse_json_model, read_limited, require_content_type
from services.ingest.http.problems import normalized, unauthorized
from services.ingest.http.webhook import (
    ACCEPTED_DOC,
    WEBHOOK_ERRORS,
    Webhook,
    accepted,
    header_parameter,
    publish_event,
    schema_ref,
)

SIGNATURE_HEADER = "X-Touchpoint-Signature"


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
    """Returns the signed timestamp, or raises SignatureError. Checked on the raw bytes in constant time; during
    a secret rotation several `v1=` values may be sent and one matching is enough."""
    if not header:
        raise SignatureError(f"{SIGNATURE_HEADER} header is missing")
    parsed = parse_signature_header(header)
    if abs(now - parsed.timestamp) > tolerance_s:
        raise SignatureError(f"signature timestamp is more than {tolerance_s}s away from now")
    expected = hmac.new(secret, f"{parsed.timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in parsed.signatures):
        raise SignatureError("signature does not match the body")
    return parsed.timestamp


Number = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_CONTROLS)]


class GenericCallPayload(BaseModel):
    """One call event as an integrator sends it. Unknown fields are refused so typos are caught early."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=100,
            pattern=r"^[\x21-\x7e]+$",
            description="the sender's own stable id of this event, if it has one",
        ),
    ] = None
    call_id: Annotated[
        str, Field(min_length=1, max_length=100, pattern=NO_CONTROLS, description="same for every event of one call")
    ]
    leg_id: Annotated[str, Field(max_length=100, pattern=NO_CONTROLS)] | None = None
    event: CallPhase
    occurred_at: AwareDatetime = Field(description="ISO 8601 with an offset, e.g. 2026-11-26T10:00:00Z")
    direction: Literal["inbound", "outbound", "internal"]
    from_: Number = Field(alias="from", description="caller: a number, SIP URI or extension")
    to: Number = Field(description="callee: a number, SIP URI or extension")
    status: CallStatus | None = Field(None, description="final automatic status, on `ended`")
    agent: Annotated[
        str | None, Field(max_length=100, pattern=NO_CONTROLS, description="extension or login of our side")
    ] = None
    duration_s: Annotated[int | None, Field(ge=0, le=7 * 24 * 3600)] = None
    talk_s: Annotated[int | None, Field(ge=0, le=7 * 24 * 3600)] = None
    recording_url: Annotated[str, Field(max_length=2000, pattern=NO_CONTROLS)] | None = None
    sequence: Annotated[int | None, Field(ge=0)] = None

    @field_validator("occurred_at")
    @classmethod
    def _representable_in_utc(cls, value: datetime) -> datetime:
        # 9999-12-31T23:00-05:00 is a valid datetime, but not in UTC, where every event is normalized: refused here
        # (422 naming the field) instead of an OverflowError answered 500, which the sender would retry for ever.
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("the time is outside the years 1-9999 in UTC") from None
        return value


def generic_event_id(payload: GenericCallPayload) -> str:
    """The same provider event always gets the same id: the sender's id, else a digest of what identifies it."""
    if payload.id is not None:
        return f"generic:{payload.id}"
    identity = "|".join(
        [
            payload.call_id,
            payload.leg_id or "",
            payload.event,
            payload.occurred_at.astimezone(UTC).isoformat(),
            "" if payload.sequence is None else str(payload.sequence),
        ]
    )
    return "generic:" + hashlib.sha256(identity.encode()).hexdigest()[:40]


def normalize_generic(payload: GenericCallPayload, received_at: datetime, default_region: str) -> CallEvent:
    caller = normalize_phone(payload.from_, default_region)
    callee = normalize_phone(payload.to, default_region)
    counterpart, ours = (caller, callee) if payload.direction == "inbound" else (callee, caller)
    if payload.direction == "internal":
        counterpart = None
    occurred_at = payload.occurred_at.astimezone(UTC)
    agent = payload.agent
    if agent is None and ours is not None and ours.extension and ours.e164 is None:
        agent = ours.extension
    return CallEvent(
        event_id=generic_event_id(payload),
        source="generic",
        call_id=payload.call_id,
        leg_id=payload.leg_id,
        phase=payload.event,
        status=payload.status,
        direction=payload.direction,
        counterpart=counterpart,
        our_number=ours,
        agent=agent,
        occurred_at=occurred_at,
        received_at=received_at.astimezone(UTC),
        ended_at=occurred_at if payload.event == "ended" else None,
        answered_at=occurred_at if payload.event == "answered" else None,
        duration_s=payload.duration_s,
        talk_s=payload.talk_s,
        recording_ref=payload.recording_url,
        sequence=payload.sequence,
    )


async def handle(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    secret = deps.settings.generic_secret
    if secret is None:
        raise SOURCE.not_configured()
    require_content_type(request, SOURCE.content_types)
    body = await read_limited(request, deps.settings.max_body_bytes)
    now = deps.clock()
    try:
        verify_generic(
            secret.get_secret_value().encode(),
            request.headers.get(SIGNATURE_HEADER),
            body,
            now.timestamp(),
            deps.settings.signature_tolerance_s,
        )
    except SignatureError as exc:
        raise unauthorized(str(exc), SIGNATURE_HEADER) from exc
    payload = parse_json_model(GenericCallPayload, body)
    event = normalized(lambda: normalize_generic(payload, now, deps.settings.default_region))
    await publish_event(deps, event)
    return accepted(event, 202)


SOURCE = Webhook(
    name="generic",
    title="the generic feed",
    route="/webhooks/generic",
    handler=handle,
    secrets=("generic_secret",),
    content_types=("application/json",),
    schemas=(GenericCallPayload,),
    operations={
        "post": {
            "operationId": "genericCallEvent",
            "summary": "Signed generic call event (any PBX)",
            "parameters": [
                header_parameter(SIGNATURE_HEADER, 't=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>')
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": schema_ref(GenericCallPayload)}},
            },
            "responses": {"202": ACCEPTED_DOC, **WEBHOOK_ERRORS},
        }
    },
)
