"""FreeSWITCH `mod_json_cdr` (docs/sources.md#freeswitch): the three body encodings, the CDR model, the pure
normalization to one `CallEvent` per leg (both legs share the A leg's uuid as `call_id`), and the webhook."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from schemas.events import CallEvent, CallStatus, Direction
from services.ingest.calls.parties import CallContext, call_context_of, infer_direction, is_ours, split_parties
from services.ingest.calls.phones import normalize_phone
from services.ingest.deps import DEPS
from services.ingest.http.auth import require_basic_auth
from services.ingest.http.bodies import read_limited
from services.ingest.http.forms import FORM, decode_form, require_form, validate_json_field
from services.ingest.http.problems import FieldError, Problem, bad_request, normalized
from services.ingest.http.webhook import ACCEPTED_DOC, WEBHOOK_ERRORS, Webhook, accepted, publish_event, schema_ref

JSON_TYPES = ("application/json", "application/x-www-form-plaintext")
FORM_TYPE = FORM
BASE64_TYPE = "application/x-www-form-base64-encoded"
ACCEPTED_TYPES = (*JSON_TYPES, FORM_TYPE, BASE64_TYPE)


class BodyError(ValueError):
    """The body is not a mod_json_cdr body of its declared encoding; `field` names the part at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def cdr_json(content_type: str, body: bytes, form_value: str | None) -> bytes:
    """The CDR's JSON bytes for each `encode` variant: raw JSON, `cdr=<url-encoded JSON>` (`form_value`, the
    decoded field) or `cdr=<base64 JSON>` (read from the raw bytes: not url-encoded, so `+` stays `+`)."""
    if content_type in JSON_TYPES:
        return body
    if content_type == FORM_TYPE:
        if form_value is None:
            raise BodyError("form field cdr is missing", "cdr")
        return form_value.encode()
    if not body.startswith(b"cdr="):
        raise BodyError("a base64 body must be cdr=<base64 JSON>", "cdr")
    encoded = body[4:].strip().replace(b"\r", b"").replace(b"\n", b"")
    # FreeSWITCH's encoder pads its buffer with NULs in some versions; they are not part of the data.
    encoded = encoded.rstrip(b"\x00")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BodyError("cdr is not valid base64", "cdr") from exc


Scalar = str | int | float | bool | None


class JsonCdr(BaseModel):
    """The parts of a JSON CDR we read; FreeSWITCH writes many more, which are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    core_uuid: str | None = Field(None, alias="core-uuid", max_length=100)
    switchname: str | None = Field(None, max_length=200)
    variables: dict[str, Scalar]
    callflow: list[dict[str, Any]] | dict[str, Any] | None = None


class CdrError(ValueError):
    """A CDR without what identifies its leg, or with a control character in a value; `field` names it."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _decoded(value: object, field: str) -> str:
    """A url-decoded CDR value; `%00` and other control characters are refused, naming the CDR field."""
    text = unquote(str(value))
    if _CONTROL.search(text):
        raise CdrError(f"{field} contains a control character", field)
    return text


def _var(cdr: JsonCdr, name: str) -> str | None:
    # With `encode-values` (the default) every value under `variables` is itself url-encoded.
    value = cdr.variables.get(name)
    if value is None:
        return None
    text = _decoded(value, f"variables.{name}").strip()
    return text or None


def _int_var(cdr: JsonCdr, name: str) -> int:
    value = _var(cdr, name)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def _caller_profile(cdr: JsonCdr) -> Mapping[str, Any]:
    """The first caller profile (`profile_index` 1): the call as it entered, before any transfer."""
    flows = cdr.callflow if isinstance(cdr.callflow, list) else [cdr.callflow] if cdr.callflow else []
    profiles = [f for f in flows if isinstance(f, dict)]
    if not profiles:
        return {}
    first = next((f for f in profiles if str(f.get("profile_index")) == "1"), profiles[-1])
    profile = first.get("caller_profile")
    return profile if isinstance(profile, dict) else {}


def _originator_uuid(profile: Mapping[str, Any]) -> str | None:
    originator = profile.get("originator")
    if not isinstance(originator, dict):
        return None
    profiles = originator.get("originator_caller_profiles") or originator.get("originator_caller_profile")
    if isinstance(profiles, dict):
        profiles = [profiles]
    if isinstance(profiles, list):
        for item in profiles:
            if isinstance(item, dict) and item.get("uuid"):
                return unquote(str(item["uuid"]))
    return None


NOT_ANSWERED: dict[str, CallStatus] = {
    "USER_BUSY": "busy",
    "ORIGINATOR_CANCEL": "abandoned",
    "NO_ANSWER": "missed",
    "NO_USER_RESPONSE": "missed",
    "ALLOTTED_TIMEOUT": "missed",
    "CALL_REJECTED": "missed",
    "NORMAL_CLEARING": "missed",
    "LOSE_RACE": "missed",
    "PICKED_OFF": "missed",
    "SUBSCRIBER_ABSENT": "missed",
    "USER_NOT_REGISTERED": "missed",
}
_RECORDING_VARIABLES = ("record_file_name", "recording_file", "record_path")
_LEG_ID = re.compile(r"^[A-Za-z0-9._:-]{1,150}$")


def _epoch(cdr: JsonCdr, name: str) -> datetime | None:
    seconds = _int_var(cdr, name)
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None


def leg_status(cdr: JsonCdr, is_b_leg: bool) -> CallStatus:
    """Answered by a person, by voicemail, or not, and why. An A leg that FreeSWITCH itself answered (IVR,
    queue music) but never bridged to anyone did not reach a person: the caller gave up ("abandoned")."""
    answered = _int_var(cdr, "answer_epoch") > 0 or _int_var(cdr, "billsec") > 0
    cause = (_var(cdr, "hangup_cause") or "").upper()
    if answered:
        if (_var(cdr, "last_app") or "").lower() == "voicemail":
            return "voicemail"
        bridged = _int_var(cdr, "bridge_epoch") > 0 or _var(cdr, "last_bridge_to") or _var(cdr, "bridge_uuid")
        if is_b_leg or bridged:
            return "answered"
        return "abandoned"
    return NOT_ANSWERED.get(cause, "failed")


def normalize_freeswitch(cdr: JsonCdr, received_at: datetime, ctx: CallContext) -> CallEvent:
    """A B leg (the one FreeSWITCH originated) names its A leg in `variables.originating_leg_uuid` or in its
    caller profile's `originator` section."""
    uuid = _var(cdr, "uuid")
    if uuid is None or not _LEG_ID.match(uuid):
        raise CdrError("variables.uuid must be the leg's uuid (letters, digits, '-', '.', '_', ':')", "variables.uuid")
    profile = _caller_profile(cdr)
    parent = _var(cdr, "originating_leg_uuid") or _originator_uuid(profile)
    if parent is not None and not _LEG_ID.match(parent):
        raise CdrError("variables.originating_leg_uuid is not a uuid", "variables.originating_leg_uuid")
    is_b_leg = parent is not None and parent != uuid
    region = ctx.default_region

    def pick(*candidates: object) -> str | None:
        for value in candidates:
            if value not in (None, ""):
                return str(value)
        return None

    def from_profile(name: str) -> str | None:
        value = profile.get(name)
        return None if value in (None, "") else _decoded(value, f"callflow.caller_profile.{name}")

    caller = normalize_phone(
        pick(from_profile("caller_id_number"), _var(cdr, "caller_id_number"), _var(cdr, "sip_from_user")), region
    )
    callee = normalize_phone(
        pick(
            from_profile("destination_number"),
            _var(cdr, "destination_number"),
            _var(cdr, "dialed_extension"),
            _var(cdr, "sip_req_user"),
            _var(cdr, "sip_to_user"),
        ),
        region,
    )
    # FreeSWITCH's own `direction` is the channel's (into or out of the switch), not the business direction.
    hint: Direction = "outbound" if is_ours(caller, ctx) else "inbound"
    direction = infer_direction(caller, callee, ctx, hint)
    parties = split_parties(direction, caller, callee)
    status = leg_status(cdr, is_b_leg)
    started_at = _epoch(cdr, "start_epoch")
    answered_at = _epoch(cdr, "answer_epoch") if status in ("answered", "voicemail") else None
    ended_at = _epoch(cdr, "end_epoch")
    received_at = received_at.astimezone(UTC)
    billsec = _int_var(cdr, "billsec")
    return CallEvent(
        event_id=f"freeswitch:{uuid}",
        source="freeswitch",
        call_id=parent if is_b_leg and parent else uuid,
        leg_id=uuid,
        parent_leg_id=parent if is_b_leg else None,
        phase="ended",
        status=status,
        direction=direction,
        counterpart=parties.counterpart,
        our_number=parties.our_number,
        agent=parties.agent,
        occurred_at=ended_at or received_at,
        received_at=received_at,
        started_at=started_at,
        answered_at=answered_at,
        ended_at=ended_at,
        duration_s=min(_int_var(cdr, "duration"), 7 * 24 * 3600),
        talk_s=min(billsec, 7 * 24 * 3600) if status in ("answered", "voicemail") else 0,
        hangup_cause=(_var(cdr, "hangup_cause") or "")[:200] or None,
        provider_status=(_var(cdr, "hangup_cause") or "")[:200] or None,
        recording_ref=next((v[:2000] for v in (_var(cdr, n) for n in _RECORDING_VARIABLES) if v), None),
    )


async def handle(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    user, password = deps.settings.freeswitch_user, deps.settings.freeswitch_password
    if user is None or password is None:
        raise SOURCE.not_configured()
    require_basic_auth(
        request.headers.get("Authorization"),
        user,
        password.get_secret_value(),
        missing_hint="HTTP Basic, `cred` in json_cdr.conf",
        realm="touchpoint",
    )
    require_form(request, SOURCE.content_types)
    body = await read_limited(request, deps.settings.max_body_bytes)
    form_value = None
    if request.content_type == FORM_TYPE:
        form_value = decode_form(body).get("cdr")
    try:
        raw_json = cdr_json(request.content_type, body, form_value)
    except BodyError as exc:
        raise bad_request(str(exc), exc.field) from exc
    field = "body" if request.content_type != FORM_TYPE and not body.startswith(b"cdr=") else "cdr"
    cdr = validate_json_field(JsonCdr, raw_json, field)
    try:
        event = normalized(lambda: normalize_freeswitch(cdr, deps.clock(), call_context_of(deps.settings)))
    except CdrError as exc:
        detail = str(exc)
        raise Problem(422, "invalid-event", "Event failed validation", detail, [FieldError(exc.field, detail)]) from exc
    await publish_event(deps, event)
    return accepted(event, 202)


SOURCE = Webhook(
    name="freeswitch",
    title="FreeSWITCH",
    route="/webhooks/freeswitch",
    handler=handle,
    secrets=("freeswitch_user", "freeswitch_password"),
    content_types=ACCEPTED_TYPES,
    schemas=(JsonCdr,),
    operations={
        "post": {
            "operationId": "freeswitchCdr",
            "summary": "FreeSWITCH mod_json_cdr call detail record (one per leg)",
            "security": [{"freeswitchBasic": []}],
            "parameters": [
                {"name": "uuid", "in": "query", "required": False, "schema": {"type": "string"}},
            ],
            "requestBody": {
                "required": True,
                "content": {
                    **{t: {"schema": schema_ref(JsonCdr)} for t in JSON_TYPES},
                    FORM_TYPE: {
                        "schema": {
                            "type": "object",
                            "required": ["cdr"],
                            "properties": {"cdr": {"type": "string", "description": "the CDR JSON"}},
                        }
                    },
                    BASE64_TYPE: {"schema": {"type": "string", "description": "cdr=<base64 of the CDR JSON>"}},
                },
            },
            "responses": {"202": ACCEPTED_DOC, **WEBHOOK_ERRORS},
        }
    },
)
