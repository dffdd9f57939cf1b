"""Mango Office VPBX notifications `events/{call,summary,recording}` (docs/sources.md#mango): the `sign` check,
the event models, the pure normalization to `CallEvent` (`entry_id` is the call, `call_id` a leg), the webhook."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Literal, cast

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from schemas.events import NO_CONTROLS, CallEvent, CallPhase, CallStatus, Direction
from services.ingest.calls.parties import (
    CallContext,
    Parties,
    call_context_of,
    digest_event_id,
    infer_direction,
    split_parties,
)
from services.ingest.calls.phones import normalize_phone
from services.ingest.deps import DEPS
from services.ingest.http.bodies import read_limited
from services.ingest.http.forms import FORM, decode_form, first_values, require_form, validate_json_field
from services.ingest.http.problems import normalized, unauthorized
from services.ingest.http.webhook import WEBHOOK_ERRORS, Webhook, publish_event, refuse_stale

MangoEventKind = Literal["call", "summary", "recording"]


class MangoSignatureError(ValueError):
    """Why a Mango notification was refused; `field` is the form field at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def mango_sign(api_key: str, json_text: str, api_salt: str) -> str:
    return hashlib.sha256((api_key + json_text + api_salt).encode()).hexdigest()


def verify_mango(api_key: str, api_salt: str, form: Mapping[str, str]) -> str:
    """Returns the `json` text once the key and the signature over it are ours. The signature covers `json`
    exactly as received: it is never re-serialized."""
    for name in ("vpbx_api_key", "sign", "json"):
        if name not in form:
            raise MangoSignatureError(f"form field {name} is missing", name)
    if not hmac.compare_digest(form["vpbx_api_key"].encode(), api_key.encode()):
        raise MangoSignatureError("vpbx_api_key is not this company's API key", "vpbx_api_key")
    expected = mango_sign(api_key, form["json"], api_salt)
    if not hmac.compare_digest(expected.encode(), form["sign"].strip().lower().encode()):
        raise MangoSignatureError("sign does not match sha256(key + json + salt)", "sign")
    return form["json"]


Id = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_CONTROLS)]
Text = Annotated[str, Field(max_length=200, pattern=NO_CONTROLS)]
Extension = Annotated[str, Field(max_length=100, pattern=NO_CONTROLS)]
Epoch = Annotated[int, Field(ge=0, le=32503680000)]


class _Mango(BaseModel):
    # Mango adds fields over time; unknown ones are ignored, the ones we read are validated.
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class MangoParty(_Mango):
    extension: Extension | None = None
    number: Text | None = None
    line_number: Text | None = None


class MangoCall(_Mango):
    entry_id: Id
    call_id: Id
    timestamp: Epoch
    seq: Annotated[int, Field(ge=0)]
    call_state: Literal["Appeared", "Connected", "OnHold", "Disconnected"]
    location: Text | None = None
    from_: MangoParty = Field(alias="from")
    to: MangoParty
    disconnect_reason: int | None = None


class MangoSummary(_Mango):
    entry_id: Id
    call_direction: int | None = None
    from_: MangoParty = Field(alias="from")
    to: MangoParty
    line_number: Text | None = None
    create_time: Epoch
    forward_time: Epoch | None = None
    talk_time: Epoch | None = None
    end_time: Epoch
    entry_result: int | None = None
    disconnect_reason: int | None = None


class MangoRecording(_Mango):
    recording_id: Id
    recording_state: Text
    entry_id: Id
    call_id: Id | None = None
    extension: Extension | None = None
    timestamp: Epoch
    completion_code: int | None = None


MODELS: dict[MangoEventKind, type[_Mango]] = {"call": MangoCall, "summary": MangoSummary, "recording": MangoRecording}

_DIRECTIONS: dict[int, Direction] = {0: "internal", 1: "inbound", 2: "outbound"}


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _parties(
    source: MangoParty, target: MangoParty, line_number: str | None, ctx: CallContext, hint: Direction
) -> Parties:
    """Mango names both sides as {extension, number}: an extension is our user, a number outside it."""
    region = ctx.default_region
    caller = normalize_phone(source.number, region) if source.number else None
    callee = normalize_phone(target.number, region) if target.number else None
    caller_ext = normalize_phone(source.extension, region) if source.extension else None
    callee_ext = normalize_phone(target.extension, region) if target.extension else None
    did = normalize_phone(line_number or target.line_number, region)
    if hint == "unknown":
        if caller_ext and callee_ext:
            hint = "internal"
        elif caller_ext:
            hint = "outbound"
        elif callee_ext or did:
            hint = "inbound"
    direction = infer_direction(caller or caller_ext, callee or did or callee_ext, ctx, hint)
    if direction == "inbound":
        return split_parties(direction, caller, callee_ext or callee, target.extension, did or callee)
    if direction == "outbound":
        return split_parties(direction, caller_ext or caller, callee, source.extension, caller or did)
    if direction == "internal":
        return split_parties(direction, caller_ext or caller, callee_ext or callee, source.extension)
    return split_parties(direction, caller or caller_ext, callee or callee_ext)


def _call_phase(event: MangoCall) -> CallPhase:
    at_user = event.location in (None, "abonent")
    if event.call_state == "Appeared":
        return "ringing" if at_user else "initiated"
    if event.call_state == "Connected":
        # Connected in the IVR or a queue means the PBX picked up, not a person.
        return "answered" if at_user else "ringing"
    if event.call_state == "OnHold":
        return "answered"
    return "ended"


def normalize_call(event: MangoCall, received_at: datetime, ctx: CallContext) -> CallEvent:
    """One leg's state change. Disconnected legs carry no status: several extensions may ring and hang up
    unanswered in a call someone else answered; the summary (or the fold of all legs) decides."""
    phase = _call_phase(event)
    parties = _parties(event.from_, event.to, None, ctx, "unknown")
    occurred_at = _utc(event.timestamp)
    return CallEvent(
        event_id=digest_event_id("mango", "call", event.entry_id, event.call_id, str(event.seq), event.call_state),
        source="mango",
        call_id=event.entry_id,
        leg_id=event.call_id,
        phase=phase,
        direction=parties.direction,
        counterpart=parties.counterpart,
        our_number=parties.our_number,
        agent=parties.agent,
        occurred_at=occurred_at,
        received_at=received_at.astimezone(UTC),
        answered_at=occurred_at if event.call_state == "Connected" and phase == "answered" else None,
        ended_at=occurred_at if phase == "ended" else None,
        hangup_cause=None if event.disconnect_reason is None else str(event.disconnect_reason),
        provider_status=f"{event.call_state}/{event.location}" if event.location else event.call_state,
        sequence=event.seq,
    )


def summary_status(summary: MangoSummary) -> CallStatus:
    """Talk time decides (Mango sets it only when someone answered); entry_result is the fallback."""
    if summary.talk_time:
        return "answered"
    if summary.talk_time is None and summary.entry_result == 1:
        return "answered"
    return "missed"


def normalize_summary(summary: MangoSummary, received_at: datetime, ctx: CallContext) -> CallEvent:
    hint = _DIRECTIONS.get(summary.call_direction, "unknown") if summary.call_direction is not None else "unknown"
    parties = _parties(summary.from_, summary.to, summary.line_number, ctx, hint)
    if summary.call_direction in _DIRECTIONS and parties.direction != hint:
        parties = Parties(hint, parties.counterpart, parties.our_number, parties.agent)
    status = summary_status(summary)
    answered = summary.talk_time if status == "answered" and summary.talk_time else None
    return CallEvent(
        event_id=digest_event_id("mango", "summary", summary.entry_id),
        source="mango",
        call_id=summary.entry_id,
        phase="ended",
        status=status,
        direction=parties.direction,
        counterpart=None if parties.direction == "internal" else parties.counterpart,
        our_number=parties.our_number,
        agent=parties.agent,
        occurred_at=_utc(summary.end_time),
        received_at=received_at.astimezone(UTC),
        started_at=_utc(summary.create_time),
        answered_at=_utc(answered) if answered else None,
        ended_at=_utc(summary.end_time),
        duration_s=max(0, summary.end_time - summary.create_time),
        talk_s=max(0, summary.end_time - answered) if answered else 0,
        hangup_cause=None if summary.disconnect_reason is None else str(summary.disconnect_reason),
        provider_status=None if summary.entry_result is None else f"entry_result={summary.entry_result}",
    )


def normalize_recording(recording: MangoRecording, received_at: datetime) -> CallEvent:
    """The recording is fetched later through Mango's API by `recording_id`, which is the reference kept."""
    agent = recording.extension or None
    return CallEvent(
        event_id=digest_event_id("mango", "recording", recording.recording_id, recording.recording_state),
        source="mango",
        call_id=recording.entry_id,
        leg_id=recording.call_id,
        phase="recording",
        direction="unknown",
        agent=agent,
        occurred_at=_utc(recording.timestamp),
        received_at=received_at.astimezone(UTC),
        provider_status=recording.recording_state,
        recording_ref=f"mango:recording:{recording.recording_id}",
    )


def normalize_mango(event: _Mango, received_at: datetime, ctx: CallContext) -> CallEvent:
    if isinstance(event, MangoCall):
        return normalize_call(event, received_at, ctx)
    if isinstance(event, MangoSummary):
        return normalize_summary(event, received_at, ctx)
    if isinstance(event, MangoRecording):
        return normalize_recording(event, received_at)
    raise TypeError(f"not a Mango event: {type(event).__name__}")


def signed_time(event: _Mango) -> tuple[datetime, str]:
    """The event time inside the signed json, and the field that carries it."""
    if isinstance(event, MangoSummary):
        return datetime.fromtimestamp(event.end_time, UTC), "json.end_time"
    if isinstance(event, (MangoCall, MangoRecording)):
        return datetime.fromtimestamp(event.timestamp, UTC), "json.timestamp"
    raise TypeError(f"not a Mango event: {type(event).__name__}")


async def handle(request: web.Request) -> web.Response:
    """Mango expects `{}` as the answer; it comes only after the Kafka ack."""
    deps = request.app[DEPS]
    key, salt = deps.settings.mango_api_key, deps.settings.mango_api_salt
    if key is None or salt is None:
        raise SOURCE.not_configured()
    kind = cast(MangoEventKind, request.match_info["kind"])
    require_form(request, SOURCE.content_types)
    body = await read_limited(request, deps.settings.max_body_bytes)
    form = first_values(decode_form(body))
    try:
        json_text = verify_mango(key.get_secret_value(), salt.get_secret_value(), form)
    except MangoSignatureError as exc:
        raise unauthorized(str(exc), exc.field) from exc
    event = validate_json_field(MODELS[kind], json_text, "json")
    now = deps.clock()
    signed_at, field = signed_time(event)
    refuse_stale(signed_at, now, deps.settings.event_time_window_s, field)
    call = normalized(lambda: normalize_mango(event, now, call_context_of(deps.settings)))
    await publish_event(deps, call)
    return web.json_response({})


SOURCE = Webhook(
    name="mango",
    title="Mango Office",
    route="/webhooks/mango/events/{kind:call|summary|recording}",
    openapi_path="/webhooks/mango/events/{kind}",
    handler=handle,
    secrets=("mango_api_key", "mango_api_salt"),
    content_types=(FORM,),
    operations={
        "post": {
            "operationId": "mangoEvent",
            "summary": "Mango Office VPBX notification: events/call, events/summary, events/recording",
            "parameters": [
                {
                    "name": "kind",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": list(MODELS)},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    FORM: {
                        "schema": {
                            "type": "object",
                            "required": ["vpbx_api_key", "sign", "json"],
                            "properties": {
                                "vpbx_api_key": {"type": "string"},
                                "sign": {"type": "string", "description": "hex sha256(key + json + salt)"},
                                "json": {"type": "string", "description": "the event as JSON text"},
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "Durably written to Kafka; the empty object Mango expects",
                    "content": {"application/json": {"schema": {"type": "object", "maxProperties": 0}}},
                },
                **WEBHOOK_ERRORS,
            },
        }
    },
)
