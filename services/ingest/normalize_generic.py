"""The generic signed JSON feed for any PBX (Asterisk, 3CX, in-house): its wire model and its pure
normalization to `CallEvent`. Documented with a worked example in docs/generic-feed.md."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.events import CallEvent, CallPhase, CallStatus
from services.ingest.phones import normalize_phone

Number = Annotated[str, Field(min_length=1, max_length=100)]


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
    call_id: Annotated[str, Field(min_length=1, max_length=100, description="same for every event of one call")]
    leg_id: Annotated[str | None, Field(max_length=100)] = None
    event: CallPhase
    occurred_at: AwareDatetime = Field(description="ISO 8601 with an offset, e.g. 2026-11-26T10:00:00Z")
    direction: Literal["inbound", "outbound", "internal"]
    from_: Number = Field(alias="from", description="caller: a number, SIP URI or extension")
    to: Number = Field(description="callee: a number, SIP URI or extension")
    status: CallStatus | None = Field(None, description="final automatic status, on `ended`")
    agent: Annotated[str | None, Field(max_length=100, description="extension or login of our side")] = None
    duration_s: Annotated[int | None, Field(ge=0, le=7 * 24 * 3600)] = None
    talk_s: Annotated[int | None, Field(ge=0, le=7 * 24 * 3600)] = None
    recording_url: Annotated[str | None, Field(max_length=2000)] = None
    sequence: Annotated[int | None, Field(ge=0)] = None


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
