"""Records the classifier publishes (through its outbox) and the dead letters it writes.

These topics are read by analysts and other teams, so they carry ids, statuses, timings and reasons, and no
raw phone numbers, email addresses or names."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas.actions import Outcome
from schemas.base import Record
from schemas.events import CallStatus, Direction

InteractionKind = Literal["call", "email"]
EmailStatus = Literal["received", "sent", "auto_reply", "bounce", "bulk"]
# pending: above the threshold, waiting for a person's one-click confirmation; confirmed: a person (or an earlier
# verdict on the same number) said wrong number/spam; cleared: a person said the number is fine.
FlagState = Literal["pending", "confirmed", "cleared"]
TaskKind = Literal["callback", "reply", "fill_contact_data"]
TaskStatus = Literal["open", "done", "cancelled"]


class InteractionChanged(Record):
    """The state of one interaction after a change; `version` grows by one per change."""

    schema_: Literal["touchpoint.interactions/1"] = Field("touchpoint.interactions/1", alias="schema")
    event_id: str = Field(description="`<interaction_id>:<version>`: the same change always has the same id")
    interaction_id: str
    version: int = Field(ge=1)
    kind: InteractionKind
    source: str
    direction: Direction
    auto_status: CallStatus | EmailStatus | None = None
    manager_id: str | None = None
    contact_id: str | None = None
    started_at: AwareDatetime | None = None
    answered_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    duration_s: int | None = None
    talk_s: int | None = None
    changed_at: AwareDatetime
    outcome: Outcome | None = Field(None, description="the outcome a person confirmed or chose")
    thread_id: str | None = Field(None, description="emails: the thread this message belongs to")
    spam_score: float | None = Field(None, ge=0, le=1, description="wrong-number/spam score of a call")
    spam_reasons: tuple[str, ...] = Field((), description="human-readable reasons behind the score")
    flag: FlagState | None = None


class TaskChanged(Record):
    """The state of one follow-up task after a change; `version` grows by one per change."""

    schema_: Literal["touchpoint.tasks/1"] = Field("touchpoint.tasks/1", alias="schema")
    event_id: str = Field(description="`<task_id>:<version>`: the same change always has the same id")
    task_id: str
    version: int = Field(ge=1)
    kind: TaskKind
    status: TaskStatus
    assignee_id: str | None = Field(None, description="the manager the task is assigned to")
    contact_id: str | None = None
    interaction_id: str | None = Field(None, description="the interaction that created the task")
    reason: str = Field(description="why the task exists, human-readable")
    attempts: int = Field(ge=1, description="callbacks: how many missed calls this task answers")
    created_at: AwareDatetime
    due_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    closed_by_interaction_id: str | None = None
    closed_by_manager_id: str | None = None
    close_reason: str | None = None
    response_s: int | None = Field(None, description="seconds from the task's creation to the work that closed it")
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
