"""Zadarma PBX notifications (docs/sources.md#zadarma): the `zd_echo` URL check, the `Signature` check, the
NOTIFY_* models, their pure normalization to `CallEvent` (`pbx_call_id` is the call), and the webhook."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from schemas.events import NO_CONTROLS, CallEvent, CallPhase, CallStatus, Direction
from services.ingest.calls.parties import (
    CallContext,
    call_context_of,
    digest_event_id,
    infer_direction,
    local_to_utc,
    split_parties,
)
from services.ingest.calls.phones import normalize_phone
from services.ingest.deps import DEPS
from services.ingest.http.bodies import read_limited
from services.ingest.http.forms import FORM, decode_form, first_values, require_form, validate_fields
from services.ingest.http.problems import FieldError, Problem, normalized, unauthorized
from services.ingest.http.webhook import WEBHOOK_ERRORS, Webhook, form_schema, header_parameter, publish_event

SIGNATURE_HEADER = "Signature"

ZadarmaEvent = Literal[
    "NOTIFY_START",
    "NOTIFY_INTERNAL",
    "NOTIFY_ANSWER",
    "NOTIFY_END",
    "NOTIFY_OUT_START",
    "NOTIFY_OUT_END",
    "NOTIFY_RECORD",
]
# Per the official SDK (zadarma/user-api-v1 `lib/Client.php::encodeSignature`, `lib/Webhook/Notify*.php`):
# Signature = base64(hex(HMAC-SHA1(api secret, these fields concatenated))), a missing one counting as "".
SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_ANSWER": ("caller_id", "destination", "call_start"),
    "NOTIFY_OUT_START": ("internal", "destination", "call_start"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
    "NOTIFY_RECORD": ("pbx_call_id", "call_id_with_rec"),
}


class ZadarmaSignatureError(ValueError):
    """Why a Zadarma notification was refused; `field` names what was wrong."""

    def __init__(self, message: str, field: str = SIGNATURE_HEADER) -> None:
        super().__init__(message)
        self.field = field


class UnsupportedEvent(ValueError):
    """An `event` we do not know how to verify (so do not accept)."""


def sign_string(form: Mapping[str, str]) -> str:
    event = form.get("event", "")
    fields = SIGNED_FIELDS.get(event)
    if fields is None:
        raise UnsupportedEvent(f"event must be one of {', '.join(SIGNED_FIELDS)}; got {event[:40]!r}")
    return "".join(form.get(name, "") for name in fields)


def zadarma_signature(secret: bytes, signed: str) -> str:
    return base64.b64encode(hmac.new(secret, signed.encode(), hashlib.sha1).hexdigest().encode()).decode()


def verify_zadarma(secret: bytes, form: Mapping[str, str], signature: str | None) -> None:
    if not signature:
        raise ZadarmaSignatureError(f"{SIGNATURE_HEADER} header is missing")
    expected = zadarma_signature(secret, sign_string(form))
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise ZadarmaSignatureError("Signature does not match the notification's signed fields")


Id = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_CONTROLS)]
Party = Annotated[str, Field(max_length=100, pattern=NO_CONTROLS)]
LocalTime = Annotated[datetime, Field(description="YYYY-MM-DD HH:MM:SS in the account's time zone")]
Seconds = Annotated[int, Field(ge=0, le=7 * 24 * 3600)]


class _Notify(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    event: ZadarmaEvent
    pbx_call_id: Id


class _Timed(_Notify):
    call_start: datetime  # the account's wall-clock time, read in TOUCHPOINT_TIMEZONE

    def start_utc(self, ctx: CallContext) -> datetime:
        if self.call_start.tzinfo is not None:
            return self.call_start.astimezone(UTC)
        return local_to_utc(self.call_start, ctx.timezone)


class NotifyStart(_Timed):
    caller_id: Party
    called_did: Party = ""


class NotifyInternal(NotifyStart):
    internal: Party


class NotifyAnswer(_Timed):
    caller_id: Party
    destination: Party
    internal: Party = ""


class _Ended(_Timed):
    internal: Party = ""
    duration: Seconds
    disposition: Annotated[str, Field(max_length=50, pattern=NO_CONTROLS)]
    status_code: Annotated[str, Field(max_length=10, pattern=NO_CONTROLS)] = ""
    is_recorded: Literal["0", "1", ""] = ""
    call_id_with_rec: Annotated[str, Field(max_length=200, pattern=NO_CONTROLS)] = ""


class NotifyEnd(_Ended):
    caller_id: Party
    called_did: Party = ""


class NotifyOutStart(_Timed):
    internal: Party
    destination: Party
    caller_id: Party = ""


class NotifyOutEnd(_Ended):
    internal: Party
    destination: Party
    caller_id: Party = ""


class NotifyRecord(_Notify):
    call_id_with_rec: Id


MODELS: dict[str, type[_Notify]] = {
    "NOTIFY_START": NotifyStart,
    "NOTIFY_INTERNAL": NotifyInternal,
    "NOTIFY_ANSWER": NotifyAnswer,
    "NOTIFY_END": NotifyEnd,
    "NOTIFY_OUT_START": NotifyOutStart,
    "NOTIFY_OUT_END": NotifyOutEnd,
    "NOTIFY_RECORD": NotifyRecord,
}

PHASES: dict[str, CallPhase] = {
    "NOTIFY_START": "initiated",
    "NOTIFY_INTERNAL": "ringing",
    "NOTIFY_ANSWER": "answered",
    "NOTIFY_END": "ended",
    "NOTIFY_OUT_START": "initiated",
    "NOTIFY_OUT_END": "ended",
    "NOTIFY_RECORD": "recording",
}
DISPOSITIONS: dict[str, CallStatus] = {
    "answered": "answered",
    "busy": "busy",
    "cancel": "abandoned",
    "no answer": "missed",
    "failed": "failed",
    "no money": "failed",
    "unallocated number": "failed",
    "no limit": "failed",
    "no day limit": "failed",
    "line limit": "failed",
    "no money, no limit": "failed",
}


def zadarma_status(disposition: str) -> CallStatus | None:
    return DISPOSITIONS.get(disposition.strip().lower())


def _event_id(notify: _Notify) -> str:
    """From the signed fields only (plus the event type, one of seven): a captured notification replayed with
    another pbx_call_id, disposition or duration gets the id its original, or the genuine notification of
    that type, has, and is applied once. NOTIFY_INTERNAL adds the ringing extension (unsigned), so that each
    extension rung is its own event (docs/sources.md#zadarma says what a forger can still do)."""
    signed = notify.model_dump(include=set(SIGNED_FIELDS[notify.event]))
    parts = [str(signed.get(name, "")) for name in SIGNED_FIELDS[notify.event]]
    if isinstance(notify, NotifyInternal):
        parts.append(notify.internal)
    return digest_event_id("zadarma", notify.event, *parts)


class StaleNotification(ValueError):
    """call_start is too far from now: a replayed notification, or TOUCHPOINT_TIMEZONE is not the PBX's."""


def check_fresh(notify: _Notify, received_at: datetime, ctx: CallContext, window_s: int) -> None:
    """Zadarma signs call_start (the PBX's local time) but no delivery time: a notification whose call started
    more than `window_s` before (or after) now is refused, so a captured one cannot be replayed forever.
    NOTIFY_RECORD has no call_start; its id is signed whole, so a replay of it changes nothing."""
    if not isinstance(notify, _Timed):
        return
    offset = abs((received_at - notify.start_utc(ctx)).total_seconds())
    if offset > window_s:
        raise StaleNotification(
            f"call_start is {offset:.0f}s from now, more than {window_s}s (TOUCHPOINT_ZADARMA_CALL_START_WINDOW_S): "
            "a replay, or TOUCHPOINT_TIMEZONE is not the PBX's time zone"
        )


def normalize_zadarma(notify: _Notify, received_at: datetime, ctx: CallContext) -> CallEvent:
    """Zadarma sends answer/end notifications as they happen but dates them only by the call's start, so
    those events occur "now" (received_at) and carry the start as `started_at`."""
    received_at = received_at.astimezone(UTC)
    phase = PHASES[notify.event]
    if isinstance(notify, NotifyRecord):
        return CallEvent(
            event_id=_event_id(notify),
            source="zadarma",
            call_id=notify.pbx_call_id,
            phase="recording",
            direction="unknown",
            occurred_at=received_at,
            received_at=received_at,
            recording_ref=f"zadarma:{notify.call_id_with_rec}",
        )
    assert isinstance(notify, _Timed)
    region = ctx.default_region
    started_at = notify.start_utc(ctx)
    internal = getattr(notify, "internal", "") or None
    agent_party = normalize_phone(internal, region)
    if isinstance(notify, (NotifyOutStart, NotifyOutEnd)):
        caller = agent_party or normalize_phone(notify.caller_id, region)
        callee = normalize_phone(notify.destination, region)
        hint: Direction = "outbound"
        our_number = normalize_phone(notify.caller_id, region) if notify.caller_id else None
    else:
        caller = normalize_phone(getattr(notify, "caller_id", ""), region)
        did = normalize_phone(getattr(notify, "called_did", ""), region)
        answered_by = normalize_phone(getattr(notify, "destination", ""), region)
        callee = agent_party or answered_by or did
        hint = "inbound"
        our_number = did
    direction = infer_direction(caller, callee, ctx, hint)
    parties = split_parties(direction, caller, callee, internal, our_number if direction != "internal" else None)
    status: CallStatus | None = None
    duration: int | None = None
    recording: str | None = None
    provider_status: str | None = None
    hangup_cause: str | None = None
    if isinstance(notify, _Ended):
        status = zadarma_status(notify.disposition)
        duration = notify.duration
        provider_status = notify.disposition
        hangup_cause = notify.status_code or None
        if notify.is_recorded == "1" and notify.call_id_with_rec:
            recording = f"zadarma:{notify.call_id_with_rec}"
    occurred_at = started_at if phase in ("initiated", "ringing") else received_at
    return CallEvent(
        event_id=_event_id(notify),
        source="zadarma",
        call_id=notify.pbx_call_id,
        phase=phase,
        status=status,
        direction=parties.direction,
        counterpart=parties.counterpart,
        our_number=parties.our_number,
        agent=parties.agent,
        occurred_at=occurred_at,
        received_at=received_at,
        started_at=started_at,
        answered_at=received_at if phase == "answered" else None,
        ended_at=received_at if phase == "ended" else None,
        duration_s=duration,
        talk_s=duration if status == "answered" else (0 if status is not None else None),
        hangup_cause=hangup_cause,
        provider_status=provider_status,
        recording_ref=recording,
    )


_ECHO = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")


def _echo(request: web.Request) -> web.Response:
    """Zadarma proves we own the URL by asking us to repeat a token; nothing else is answered to a GET."""
    value = request.query.get("zd_echo")
    if value is None or not _ECHO.match(value):
        detail = "zd_echo must be 1-128 letters, digits, '.', '_' or '-'"
        raise Problem(400, "malformed-query", "Malformed query", detail, [FieldError("zd_echo", detail)])
    return web.Response(text=value, content_type="text/plain", headers={"X-Content-Type-Options": "nosniff"})


async def handle(request: web.Request) -> web.Response:
    """200 with an empty body: Zadarma reads a body on NOTIFY_START as call-routing commands."""
    deps = request.app[DEPS]
    secret = deps.settings.zadarma_api_secret
    if secret is None:
        raise SOURCE.not_configured()
    if request.method == "GET":
        return _echo(request)
    require_form(request, SOURCE.content_types)
    body = await read_limited(request, deps.settings.max_body_bytes)
    form = first_values(decode_form(body))
    try:
        verify_zadarma(secret.get_secret_value().encode(), form, request.headers.get(SIGNATURE_HEADER))
    except UnsupportedEvent as exc:
        raise Problem(422, "unsupported-event", "Unsupported event", str(exc), [FieldError("event", str(exc))]) from exc
    except ZadarmaSignatureError as exc:
        raise unauthorized(str(exc), exc.field) from exc
    notify = validate_fields(MODELS[form["event"]], form)
    now, ctx = deps.clock(), call_context_of(deps.settings)
    try:
        check_fresh(notify, now, ctx, deps.settings.zadarma_call_start_window_s)
    except StaleNotification as exc:
        raise unauthorized(str(exc), "call_start") from exc
    event = normalized(lambda: normalize_zadarma(notify, now, ctx))
    await publish_event(deps, event)
    return web.Response(status=200)


SOURCE = Webhook(
    name="zadarma",
    title="Zadarma",
    route="/webhooks/zadarma",
    handler=handle,
    secrets=("zadarma_api_secret",),
    content_types=(FORM,),
    operations={
        "get": {
            "operationId": "zadarmaEcho",
            "summary": "Zadarma URL check: answers the zd_echo value",
            "parameters": [
                {
                    "name": "zd_echo",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "pattern": _ECHO.pattern},
                }
            ],
            "responses": {
                "200": {"description": "the zd_echo value", "content": {"text/plain": {"schema": {"type": "string"}}}},
                "400": WEBHOOK_ERRORS["400"],
                "403": WEBHOOK_ERRORS["403"],
            },
        },
        "post": {
            "operationId": "zadarmaNotify",
            "summary": "Zadarma NOTIFY_* call notification (form-encoded)",
            "parameters": [
                header_parameter(SIGNATURE_HEADER, "base64(hex HMAC-SHA1(api secret, the event's signed fields))")
            ],
            "requestBody": {
                "required": True,
                "content": {
                    FORM: {
                        "schema": form_schema(
                            [MODELS[name] for name in sorted(MODELS)],
                            ["event", "pbx_call_id"],
                            "fields by event: see docs/sources.md#zadarma",
                        )
                    }
                },
            },
            "responses": {"200": {"description": "Durably written to Kafka (empty body)"}, **WEBHOOK_ERRORS},
        },
    },
)
