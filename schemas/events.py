"""Normalized input events: one `CallEvent` per provider call event, one `EmailEvent` per message.

Produced by ingest to `touchpoint.calls.v1` / `touchpoint.emails.v1`; consumed by the classifier. They carry
the client's personal data (numbers, addresses) and so never leave the operators' side of the system."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from schemas.base import Record

CallSource = Literal["generic", "twilio", "mango", "zadarma", "freeswitch"]
EmailSource = Literal["mailgun", "postmark", "smtp"]
CallPhase = Literal["initiated", "ringing", "answered", "ended", "recording"]
CallStatus = Literal["answered", "missed", "abandoned", "voicemail", "busy", "failed"]
Direction = Literal["inbound", "outbound", "internal", "unknown"]

EventId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
ShortText = Annotated[str, Field(max_length=200)]


class PhoneAddress(Record):
    """A phone party as the provider gave it, plus its E.164 form when the number could be parsed."""

    raw: ShortText
    e164: Annotated[str | None, Field(pattern=r"^\+[1-9]\d{1,14}$")] = None
    extension: Annotated[str | None, Field(max_length=20)] = None


class CallEvent(Record):
    schema_: Literal["touchpoint.calls/1"] = Field("touchpoint.calls/1", alias="schema")
    event_id: EventId
    source: CallSource
    call_id: Annotated[str, Field(min_length=1, max_length=200)]
    leg_id: ShortText | None = None
    parent_leg_id: ShortText | None = None
    phase: CallPhase
    status: CallStatus | None = None
    direction: Direction
    counterpart: PhoneAddress | None = None
    our_number: PhoneAddress | None = None
    agent: Annotated[str | None, Field(max_length=100)] = None
    occurred_at: AwareDatetime
    received_at: AwareDatetime
    started_at: AwareDatetime | None = None
    answered_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    duration_s: Annotated[int | None, Field(ge=0, le=7 * 24 * 3600)] = None
    talk_s: Annotated[int | None, Field(ge=0, le=7 * 24 * 3600)] = None
    hangup_cause: ShortText | None = None
    provider_status: ShortText | None = None
    recording_ref: Annotated[str | None, Field(max_length=2000)] = None
    sequence: Annotated[int | None, Field(ge=0)] = None

    def kafka_key(self) -> str:
        """All events about one client land in one partition, in order (DESIGN.md, keys and ordering)."""
        if self.direction != "internal" and self.counterpart is not None:
            return self.counterpart.e164 or self.counterpart.raw
        return f"call:{self.source}:{self.call_id}"
