"""Records the classifier publishes (through its outbox) and the dead letters it writes.

These topics are read by analysts and other teams, so they carry ids, statuses, timings and reasons, and no
raw phone numbers, email addresses or names."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas.base import Record
from schemas.events import CallStatus, Direction

InteractionKind = Literal["call", "email"]


class InteractionChanged(Record):
    """The state of one interaction after a change; `version` grows by one per change."""

    schema_: Literal["touchpoint.interactions/1"] = Field("touchpoint.interactions/1", alias="schema")
    event_id: str = Field(description="`<interaction_id>:<version>`: the same change always has the same id")
    interaction_id: str
    version: int = Field(ge=1)
    kind: InteractionKind
    source: str
    direction: Direction
    auto_status: CallStatus | None = None
    manager_id: str | None = None
    contact_id: str | None = None
    started_at: AwareDatetime | None = None
    answered_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    duration_s: int | None = None
    talk_s: int | None = None
    changed_at: AwareDatetime


class DeadLetter(Record):
    """A record the classifier could not decode or validate, with where it came from and why."""

    schema_: Literal["touchpoint.dlq/1"] = Field("touchpoint.dlq/1", alias="schema")
    event_id: str = Field(description="`<topic>:<partition>:<offset>` of the original record")
    source_topic: str
    source_partition: int
    source_offset: int
    reason: str
    error_class: str
    payload: str = Field(description="the original value, decoded as UTF-8 with replacement, at most 64 KiB")
    first_seen_at: AwareDatetime
