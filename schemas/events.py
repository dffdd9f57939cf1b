"""Normalized input events from ingest: one `CallEvent` per provider call event, one `EmailEvent` per message. They
carry the client's personal data and never leave the operators' side of the system."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from schemas.base import E164, Record

CallSource = Literal["generic", "twilio", "mango", "zadarma", "freeswitch"]
EmailSource = Literal["mailgun", "postmark", "smtp"]
CallPhase = Literal["initiated", "ringing", "answered", "ended", "recording"]
CallStatus = Literal["answered", "missed", "abandoned", "voicemail", "busy", "failed"]
Direction = Literal["inbound", "outbound", "internal", "unknown"]

# PostgreSQL text cannot hold NUL, and no identifier, number or name has a control character in it: C0 and DEL
# are refused in every such field; free text (subject, body) may keep TAB/LF/CR and other controls but never NUL.
NO_CONTROLS = r"^[^\x00-\x1f\x7f]*$"
NO_NUL = r"^[^\x00]*$"

EventId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
ShortText = Annotated[str, Field(max_length=200, pattern=NO_CONTROLS)]


class PhoneAddress(Record):
    """A phone party as the provider gave it, plus its E.164 form when the number could be parsed."""

    raw: ShortText
    e164: E164 | None = None
    extension: Annotated[str, Field(max_length=20, pattern=NO_CONTROLS)] | None = None


class CallEvent(Record):
    schema_: Literal["touchpoint.calls/1"] = Field("touchpoint.calls/1", alias="schema")
    event_id: EventId
    source: CallSource
    call_id: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_CONTROLS)]
    leg_id: ShortText | None = None
    parent_leg_id: ShortText | None = None
    phase: CallPhase
    status: CallStatus | None = None
    direction: Direction
    counterpart: PhoneAddress | None = None
    our_number: PhoneAddress | None = None
    agent: Annotated[str, Field(max_length=100, pattern=NO_CONTROLS)] | None = None
    occurred_at: AwareDatetime
    received_at: AwareDatetime
    started_at: AwareDatetime | None = None
    answered_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    duration_s: Annotated[int | None, Field(ge=0, le=7 * 24 * 3600)] = None
    talk_s: Annotated[int | None, Field(ge=0, le=7 * 24 * 3600)] = None
    hangup_cause: ShortText | None = None
    provider_status: ShortText | None = None
    recording_ref: Annotated[str, Field(max_length=2000, pattern=NO_CONTROLS)] | None = None
    sequence: Annotated[int | None, Field(ge=0)] = None

    def kafka_key(self) -> str:
        """All events about one client land in one partition, in order (DESIGN.md, keys and ordering)."""
        if self.direction != "internal" and self.counterpart is not None:
            return self.counterpart.e164 or self.counterpart.raw
        return f"call:{self.source}:{self.call_id}"


EmailDirection = Literal["inbound", "outbound", "internal", "unknown"]
MAX_EMAIL_TEXT = 65_536


class EmailAddress(Record):
    address: Annotated[
        str, Field(min_length=3, max_length=320, pattern=NO_CONTROLS, description="lower-cased addr-spec")
    ]
    name: Annotated[str, Field(max_length=200, pattern=NO_CONTROLS)] | None = None


class Attachment(Record):
    """Metadata only: attachment bytes never go to Kafka."""

    filename: Annotated[str, Field(max_length=255, pattern=NO_CONTROLS)] | None = None
    content_type: Annotated[str, Field(max_length=200, pattern=NO_CONTROLS)]
    size: Annotated[int, Field(ge=0)]
    sha256: Annotated[str | None, Field(pattern=r"^[0-9a-f]{64}$")] = None


class EmailEvent(Record):
    """One message seen by a provider or our SMTP server. Threading and classification are the classifier's."""

    schema_: Literal["touchpoint.emails/1"] = Field("touchpoint.emails/1", alias="schema")
    event_id: EventId
    source: EmailSource
    message_id: Annotated[str, Field(max_length=998, pattern=NO_CONTROLS)] | None = None
    in_reply_to: Annotated[str, Field(max_length=998, pattern=NO_CONTROLS)] | None = None
    references: tuple[Annotated[str, Field(max_length=998, pattern=NO_CONTROLS)], ...] = ()
    direction: EmailDirection
    sender: EmailAddress | None = Field(None, description="the From header")
    to: tuple[EmailAddress, ...] = ()
    cc: tuple[EmailAddress, ...] = ()
    reply_to: EmailAddress | None = None
    envelope_from: Annotated[str, Field(max_length=320, pattern=NO_CONTROLS)] | None = None
    envelope_to: tuple[Annotated[str, Field(max_length=320, pattern=NO_CONTROLS)], ...] = ()
    counterpart: Annotated[
        str | None, Field(max_length=320, pattern=NO_CONTROLS, description="the external party, lower-cased")
    ] = None
    our_address: Annotated[
        str | None, Field(max_length=320, pattern=NO_CONTROLS, description="our mailbox in this message")
    ] = None
    subject: Annotated[str, Field(max_length=1000, pattern=NO_NUL)] = ""
    sent_at: AwareDatetime | None = Field(None, description="the Date header, when present and parseable")
    received_at: AwareDatetime
    auto_submitted: Annotated[
        str | None, Field(max_length=100, pattern=NO_CONTROLS, description="RFC 3834 Auto-Submitted")
    ] = None
    precedence: Annotated[str, Field(max_length=50, pattern=NO_CONTROLS)] | None = None
    list_unsubscribe: bool = False
    is_bounce: bool = Field(False, description="a delivery status notification (multipart/report or a bounce sender)")
    is_auto_reply: bool = Field(False, description="an out-of-office or other automatic answer")
    text: Annotated[str, Field(max_length=MAX_EMAIL_TEXT, pattern=NO_NUL)] | None = None
    text_truncated: bool = False
    attachments: tuple[Attachment, ...] = ()
    provider_message_id: Annotated[str, Field(max_length=200, pattern=NO_CONTROLS)] | None = None

    def kafka_key(self) -> str:
        if self.counterpart is not None and self.direction != "internal":
            return self.counterpart
        return f"email:{self.source}:{self.message_id or self.event_id}"
