"""Twilio Voice status and recording callbacks (docs/sources.md#twilio): `X-Twilio-Signature`, the callback
model, the pure normalization to `CallEvent`, and the webhook."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.events import NO_CONTROLS, CallEvent, CallPhase, CallStatus, Direction
from services.ingest.calls.parties import CallContext, call_context_of, infer_direction, is_ours, split_parties
from services.ingest.calls.phones import normalize_phone
from services.ingest.deps import DEPS
from services.ingest.http.bodies import read_limited
from services.ingest.http.forms import FORM, decode_form, first_values, require_form, validate_fields
from services.ingest.http.problems import normalized, unauthorized
from services.ingest.http.webhook import (
    ACCEPTED_DOC,
    WEBHOOK_ERRORS,
    Webhook,
    accepted,
    form_schema,
    header_parameter,
    publish_event,
    refuse_stale,
)

SIGNATURE_HEADER = "X-Twilio-Signature"
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
_HASHES = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}


class TwilioSignatureError(ValueError):
    """Why a Twilio signature was refused; safe to show to the sender."""


def signature_algorithm(settings_header: str | None) -> str:
    for part in (settings_header or "").split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip() == "algorithm" and value.strip():
            return value.strip().upper()
    return "HMAC_SHA1"


def compute_signature(token: bytes, url: str, params: Iterable[tuple[str, str]], algorithm: str = "HMAC_SHA1") -> str:
    hash_function = _HASHES.get(algorithm)
    if hash_function is None:
        raise TwilioSignatureError(f"unsupported signature algorithm {algorithm}")
    by_name: dict[str, set[str]] = {}
    for name, value in params:
        by_name.setdefault(name, set()).add(value)
    signed = url + "".join(name + value for name in sorted(by_name) for value in sorted(by_name[name]))
    return base64.b64encode(hmac.new(token, signed.encode(), hash_function).digest()).decode()


def url_variants(url: str) -> tuple[str, ...]:
    """The URL as configured, plus the same URL with the default port added or removed."""
    parts = urlsplit(url)
    default_port = 443 if parts.scheme == "https" else 80
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is None:
        other = urlunsplit(parts._replace(netloc=f"{parts.netloc}:{default_port}"))
    elif parts.port == default_port:
        userinfo = parts.netloc.rpartition("@")[0]
        other = urlunsplit(parts._replace(netloc=(userinfo + "@" if userinfo else "") + host))
    else:
        return (url,)
    return (url, other)


def verify_twilio(
    token: bytes,
    url: str,
    params: Iterable[tuple[str, str]],
    signature: str | None,
    settings_header: str | None = None,
) -> None:
    """As twilio-python's `RequestValidator`: base64(HMAC(auth token, URL + every form name and value, names
    sorted, each name's distinct values sorted)) over the URL Twilio called, with and without its default port
    (Twilio is inconsistent about it); SHA-1 unless the settings header names HMAC_SHA256."""
    if not signature:
        raise TwilioSignatureError(f"{SIGNATURE_HEADER} header is missing")
    pairs = list(params)
    algorithm = signature_algorithm(settings_header)
    for candidate_url in url_variants(url):
        expected = compute_signature(token, candidate_url, pairs, algorithm)
        if hmac.compare_digest(expected.encode(), signature.strip().encode()):
            return
    raise TwilioSignatureError(
        "signature does not match the URL and form (is TOUCHPOINT_PUBLIC_BASE_URL the URL Twilio calls?)"
    )


TwilioCallStatus = Literal[
    "queued", "initiated", "ringing", "in-progress", "completed", "busy", "failed", "no-answer", "canceled"
]
Sid = Annotated[str, Field(pattern=r"^[A-Z]{2}[0-9a-fA-F]{32}$")]
Party = Annotated[str, Field(max_length=200, pattern=NO_CONTROLS)]
Seconds = Annotated[int, Field(ge=0, le=7 * 24 * 3600)]


class TwilioCallback(BaseModel):
    """A call status callback or a recording status callback. Twilio adds fields over time: others are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    CallSid: Sid
    AccountSid: Sid
    CallStatus: TwilioCallStatus | None = None
    Direction: Annotated[str, Field(max_length=50, pattern=NO_CONTROLS)] = ""
    From: Party = ""
    To: Party = ""
    ParentCallSid: Sid | None = None
    Timestamp: Annotated[str, Field(max_length=100, pattern=NO_CONTROLS)] | None = None
    SequenceNumber: Annotated[int | None, Field(ge=0)] = None
    CallDuration: Seconds | None = None
    AnsweredBy: Annotated[str, Field(max_length=50, pattern=NO_CONTROLS)] | None = None
    SipResponseCode: Annotated[str, Field(max_length=10, pattern=NO_CONTROLS)] | None = None
    RecordingSid: Sid | None = None
    RecordingUrl: Annotated[str, Field(max_length=2000, pattern=NO_CONTROLS)] | None = None
    RecordingStatus: Annotated[str, Field(max_length=50, pattern=NO_CONTROLS)] | None = None
    RecordingDuration: Seconds | None = None

    @model_validator(mode="after")
    def _status_or_recording(self) -> TwilioCallback:
        if self.CallStatus is None and self.RecordingSid is None:
            raise ValueError("CallStatus is required (or RecordingSid, for a recording status callback)")
        return self

    def occurred_at(self, fallback: datetime) -> datetime:
        if self.Timestamp:
            try:
                parsed = parsedate_to_datetime(self.Timestamp)
            except (TypeError, ValueError):
                return fallback
            if parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
        return fallback


PHASES: dict[str, CallPhase] = {
    "queued": "initiated",
    "initiated": "initiated",
    "ringing": "ringing",
    "in-progress": "answered",
    "completed": "ended",
    "busy": "ended",
    "failed": "ended",
    "no-answer": "ended",
    "canceled": "ended",
}
FINAL_STATUSES: dict[str, CallStatus] = {
    "completed": "answered",
    "busy": "busy",
    "no-answer": "missed",
    "failed": "failed",
    "canceled": "abandoned",
}


def twilio_status(callback: TwilioCallback) -> CallStatus | None:
    """The automatic status of a leg that ended. An inbound call's own (parent) leg is "completed" as soon as
    Twilio answered it to run TwiML, whether or not a person ever picked up: its status is left to the
    dialled child legs (a parent without any answered leg folds to "missed" downstream)."""
    if callback.CallStatus is None or callback.CallStatus not in FINAL_STATUSES:
        return None
    if callback.CallStatus == "completed":
        if callback.Direction == "inbound" and callback.ParentCallSid is None:
            return None
        if (callback.AnsweredBy or "").startswith("machine"):
            return "voicemail"
    return FINAL_STATUSES[callback.CallStatus]


def _direction_hint(callback: TwilioCallback, ctx: CallContext) -> Direction:
    if callback.Direction == "inbound":
        return "inbound"
    if callback.Direction.startswith("outbound-api") or callback.Direction == "trunking-originating":
        return "outbound"
    if callback.Direction.startswith("outbound"):
        # A dialled child leg passes the caller's number through as From unless callerId was set to ours.
        return "outbound" if is_ours(normalize_phone(callback.From, ctx.default_region), ctx) else "inbound"
    return "unknown"


def normalize_twilio(callback: TwilioCallback, received_at: datetime, ctx: CallContext) -> CallEvent:
    """Every leg of a `<Dial>` gets the parent's sid as `call_id`; each leg passes each phase once, so duplicate
    "completed" callbacks and retries get the same `event_id` (`CallSid`, phase)."""
    received_at = received_at.astimezone(UTC)
    occurred_at = callback.occurred_at(received_at)
    call_id = callback.ParentCallSid or callback.CallSid
    if callback.CallStatus is None:  # a recording status callback
        return CallEvent(
            event_id=f"twilio:{callback.CallSid}:recording:{callback.RecordingSid}",
            source="twilio",
            call_id=call_id,
            leg_id=callback.CallSid,
            parent_leg_id=callback.ParentCallSid,
            phase="recording",
            direction="unknown",
            occurred_at=occurred_at,
            received_at=received_at,
            provider_status=callback.RecordingStatus,
            recording_ref=callback.RecordingUrl if callback.RecordingStatus in (None, "completed") else None,
        )
    phase = PHASES[callback.CallStatus]
    caller = normalize_phone(callback.From, ctx.default_region)
    callee = normalize_phone(callback.To, ctx.default_region)
    parties = split_parties(infer_direction(caller, callee, ctx, _direction_hint(callback, ctx)), caller, callee)
    status = twilio_status(callback) if phase == "ended" else None
    return CallEvent(
        event_id=f"twilio:{callback.CallSid}:{phase}",
        source="twilio",
        call_id=call_id,
        leg_id=callback.CallSid,
        parent_leg_id=callback.ParentCallSid,
        phase=phase,
        status=status,
        direction=parties.direction,
        counterpart=parties.counterpart,
        our_number=parties.our_number,
        agent=parties.agent,
        occurred_at=occurred_at,
        received_at=received_at,
        answered_at=occurred_at if phase == "answered" else None,
        ended_at=occurred_at if phase == "ended" else None,
        duration_s=callback.CallDuration,
        talk_s=callback.CallDuration if status in ("answered", "voicemail") else (None if status is None else 0),
        hangup_cause=callback.SipResponseCode,
        provider_status=callback.CallStatus,
        recording_ref=callback.RecordingUrl,
        sequence=callback.SequenceNumber,
    )


async def handle(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    token = deps.settings.twilio_auth_token
    if token is None:
        raise SOURCE.not_configured()
    require_form(request, SOURCE.content_types)
    body = await read_limited(request, deps.settings.max_body_bytes)
    form = decode_form(body)
    public_url = deps.settings.public_base_url.rstrip("/") + request.raw_path
    try:
        verify_twilio(
            token.get_secret_value().encode(),
            public_url,
            form.items(),
            request.headers.get(SIGNATURE_HEADER),
            request.headers.get(SETTINGS_HEADER),
        )
    except TwilioSignatureError as exc:
        raise unauthorized(str(exc), SIGNATURE_HEADER) from exc
    callback = validate_fields(TwilioCallback, first_values(form))
    now = deps.clock()
    refuse_stale(callback.occurred_at(now), now, deps.settings.event_time_window_s, "Timestamp")
    event = normalized(lambda: normalize_twilio(callback, now, call_context_of(deps.settings)))
    await publish_event(deps, event)
    return accepted(event, 202)


SOURCE = Webhook(
    name="twilio",
    title="Twilio",
    route="/webhooks/twilio",
    handler=handle,
    secrets=("twilio_auth_token",),
    content_types=(FORM,),
    operations={
        "post": {
            "operationId": "twilioStatusCallback",
            "summary": "Twilio Voice status / recording status callback (form-encoded)",
            "parameters": [
                header_parameter(
                    SIGNATURE_HEADER, "base64 HMAC-SHA1(auth token, public URL + sorted form names and values)"
                )
            ],
            "requestBody": {
                "required": True,
                "content": {
                    FORM: {
                        "schema": form_schema(
                            [TwilioCallback], ["CallSid", "AccountSid"], "Twilio's status callback parameters"
                        )
                    }
                },
            },
            "responses": {"202": ACCEPTED_DOC, **WEBHOOK_ERRORS},
        }
    },
)
