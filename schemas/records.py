"""Records the classifier publishes (through its outbox), built from its rows, and its dead letters. Analysts read
them: ids, statuses, timings and reasons, never a phone number, an email address or a name."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal, Protocol

from pydantic import AwareDatetime, Field

from schemas.actions import Outcome
from schemas.base import Record
from schemas.events import CallStatus, Direction

InteractionKind = Literal["call", "email"]
EmailStatus = Literal["received", "sent", "auto_reply", "bounce", "bulk"]
# pending: above the threshold, waiting for a person's one-click confirmation; confirmed: a person (or an earlier
# verdict on the same number) said wrong number/spam; cleared: a person said the number is fine.
FlagState = Literal["pending", "confirmed", "cleared"]
# What a flag says the caller is: a person who misdialled, or a robocaller/telemarketer (docs/wrong-numbers.md).
FlagKind = Literal["wrong_number", "spam"]
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
    suggested_outcome: Outcome | None = Field(
        None,
        description="the outcome the classifier suggests a person confirm (services/classifier/suggest_outcome.py)",
    )
    thread_id: str | None = Field(None, description="emails: the thread this message belongs to")
    spam_score: float | None = Field(None, ge=0, le=1, description="wrong-number/spam score of a call")
    spam_reasons: tuple[str, ...] = Field((), description="human-readable reasons behind the score")
    flag: FlagState | None = None
    flag_kind: FlagKind | None = Field(None, description="what the flag says: a wrong number or spam")


class InteractionRow(Protocol):
    """What an interaction row offers the analyst record (its other columns, counterpart and names, stay out)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def version(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def auto_status(self) -> str | None: ...
    @property
    def manager_id(self) -> str | None: ...
    @property
    def contact_id(self) -> uuid.UUID | None: ...
    @property
    def started_at(self) -> datetime | None: ...
    @property
    def answered_at(self) -> datetime | None: ...
    @property
    def ended_at(self) -> datetime | None: ...
    @property
    def duration_s(self) -> int | None: ...
    @property
    def talk_s(self) -> int | None: ...
    @property
    def outcome(self) -> str | None: ...
    @property
    def suggested_outcome(self) -> str | None: ...
    @property
    def thread_id(self) -> uuid.UUID | None: ...
    @property
    def spam_score(self) -> float | None: ...
    @property
    def spam_reasons(self) -> tuple[str, ...]: ...
    @property
    def flag(self) -> str | None: ...
    @property
    def flag_kind(self) -> str | None: ...


def interaction_changed(ix: InteractionRow, now: datetime) -> InteractionChanged:
    return InteractionChanged(
        event_id=f"{ix.id}:{ix.version}",
        interaction_id=str(ix.id),
        version=ix.version,
        kind=ix.kind,
        source=ix.source,
        direction=ix.direction,
        auto_status=ix.auto_status,
        manager_id=ix.manager_id,
        contact_id=_str(ix.contact_id),
        started_at=ix.started_at,
        answered_at=ix.answered_at,
        ended_at=ix.ended_at,
        duration_s=ix.duration_s,
        talk_s=ix.talk_s,
        changed_at=now,
        outcome=ix.outcome,
        suggested_outcome=ix.suggested_outcome,
        thread_id=_str(ix.thread_id),
        spam_score=ix.spam_score,
        spam_reasons=ix.spam_reasons,
        flag=ix.flag,
        flag_kind=ix.flag_kind,
    )


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


class TaskRow(Protocol):
    """What a task row offers the analyst record (its dedupe key and address stay out)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def assignee_id(self) -> str | None: ...
    @property
    def contact_id(self) -> uuid.UUID | None: ...
    @property
    def interaction_id(self) -> uuid.UUID | None: ...
    @property
    def reason(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def due_at(self) -> datetime | None: ...
    @property
    def closed_at(self) -> datetime | None: ...
    @property
    def closed_by_interaction_id(self) -> uuid.UUID | None: ...
    @property
    def closed_by_manager_id(self) -> str | None: ...
    @property
    def close_reason(self) -> str | None: ...
    @property
    def response_s(self) -> int | None: ...


def task_changed(task: TaskRow, version: int, now: datetime) -> TaskChanged:
    return TaskChanged(
        event_id=f"{task.id}:{version}",
        task_id=str(task.id),
        version=version,
        kind=task.kind,
        status=task.status,
        assignee_id=task.assignee_id,
        contact_id=_str(task.contact_id),
        interaction_id=_str(task.interaction_id),
        reason=task.reason,
        attempts=task.attempts,
        created_at=task.created_at,
        due_at=task.due_at,
        closed_at=task.closed_at,
        closed_by_interaction_id=_str(task.closed_by_interaction_id),
        closed_by_manager_id=task.closed_by_manager_id,
        close_reason=task.close_reason,
        response_s=task.response_s,
        changed_at=now,
    )


def _str(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


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


# Report records (touchpoint.reports.*.v1): ids and figures only. A day is a calendar day in TOUCHPOINT_TIMEZONE;
# what each figure counts is in docs/analysts.md. Shares and medians are null when nothing was counted.
Seconds = Annotated[float | None, Field(description="seconds; null when there is nothing to take it over")]
Share = Annotated[float | None, Field(ge=0, le=1, description="0..1; null when the denominator is 0")]


class DayFigures(Record):
    """The figures of one day, for one manager or one team."""

    day: date
    calls_in: int = Field(ge=0, description="inbound external calls that ended this day")
    calls_out: int = Field(ge=0, description="outbound external calls that ended this day")
    calls_answered: int = Field(ge=0, description="inbound calls answered")
    calls_missed: int = Field(ge=0, description="inbound calls missed")
    calls_abandoned: int = Field(ge=0, description="inbound calls hung up before any phone rang")
    calls_wrong: int = Field(ge=0, description="calls confirmed or flagged as a wrong number")
    wrong_number_share: Share
    callbacks_due: int = Field(ge=0, description="callback tasks created this day (missed calls to call back)")
    callbacks_within_sla: int = Field(ge=0, description="… of them called back by their due time")
    callback_sla_share: Share
    callback_median_s: Seconds
    callback_p90_s: Seconds
    emails_in: int = Field(ge=0, description="inbound emails received (not bounces, auto-replies or bulk)")
    emails_answered: int = Field(ge=0, description="reply tasks created this day and answered by an email")
    reply_median_s: Seconds
    meetings: int = Field(ge=0, description="meetings held this day (their date)")
    meetings_complete: int = Field(ge=0, description="… with the minimum data set")
    contacts_new: int = Field(ge=0, description="contacts created this day")
    contacts_complete: int = Field(ge=0, description="… with a first and last name and an address")
    data_completeness: Share
    deals_opened: int = Field(ge=0)
    deals_won: int = Field(ge=0)
    deals_lost: int = Field(ge=0)
    deals_won_amount: Decimal = Field(ge=0, description="sum of the won deals' amounts, as a decimal string")


class ManagerDaily(DayFigures):
    """One manager's figures for one day; the latest record per key (`manager_id|YYYY-MM-DD`) is the current one."""

    schema_: Literal["touchpoint.reports.manager-daily/1"] = Field("touchpoint.reports.manager-daily/1", alias="schema")
    event_id: str = Field(description="`<manager_id>|<day>:<version>`")
    manager_id: str
    team: str | None = Field(
        None,
        description="the team the manager was in on that day (the last change to the manager before the day ended);"
        " a later move does not change it",
    )
    version: int = Field(ge=1, description="grows by one each time the day's figures change")
    computed_at: AwareDatetime


class TeamDaily(DayFigures):
    """One team's figures for one day (the sum of its managers'; medians over all their times); key `team|day`."""

    schema_: Literal["touchpoint.reports.team-daily/1"] = Field("touchpoint.reports.team-daily/1", alias="schema")
    event_id: str = Field(description="`<team>|<day>:<version>`")
    team: str
    managers: int = Field(ge=0, description="managers with a row this day")
    computed_at: AwareDatetime


class CallbackSla(Record):
    """Callback service level of one manager and day; key `manager_id|YYYY-MM-DD`, updated when it changes."""

    schema_: Literal["touchpoint.reports.callback-sla/1"] = Field("touchpoint.reports.callback-sla/1", alias="schema")
    event_id: str = Field(description="`callback-sla:<manager_id>|<day>:<version of the manager-day>`")
    manager_id: str
    team: str | None = None
    day: date
    sla_minutes: int = Field(ge=0, description="business minutes a missed call must be called back within")
    callbacks_due: int = Field(ge=0)
    callbacks_within_sla: int = Field(ge=0)
    callbacks_done: int = Field(ge=0, description="callbacks done (by a call or by hand), late or not")
    callback_sla_share: Share
    callback_median_s: Seconds
    callback_p90_s: Seconds
    computed_at: AwareDatetime
