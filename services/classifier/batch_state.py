"""The batch's loaded state: the rows one batch touches, as plain objects the pure steps change in memory.
write_back.py writes what differs from the rows as loaded; audit entries and task links are appended here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from schemas.records import TaskKind, TaskStatus
from services.classifier.assign_tasks import ManagerView
from services.classifier.score_spam import NumberStats, Verdict


@dataclass
class Manager:
    id: str
    name: str
    email: str | None
    on_duty: bool
    active: bool
    extensions: tuple[str, ...] = ()
    team: str | None = None

    def view(self) -> ManagerView:
        return ManagerView(self.id, self.on_duty, self.active)

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "email": self.email,
            "on_duty": self.on_duty,
            "active": self.active,
            "extensions": list(self.extensions),
            "team": self.team,
        }


@dataclass
class Contact:
    id: uuid.UUID
    owner_id: str | None
    first_name: str | None
    last_name: str | None
    created_automatically: bool
    is_lead: bool
    version: int = 1
    merged_into: uuid.UUID | None = None
    occurred_at: datetime | None = None
    """When the call or mail that created it happened: the day it counts as new on (None: not known here)."""

    def snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "owner_id": self.owner_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "is_lead": self.is_lead,
        }
        if self.merged_into is not None:
            out["merged_into"] = str(self.merged_into)
        return out


@dataclass
class Address:
    address: str
    contact_id: uuid.UUID
    kind: Literal["phone", "email"]
    undeliverable: bool = False


@dataclass(frozen=True)
class Task:
    """Immutable: a change is a new value given to `BatchState.put_task`, which keeps the indexes right."""

    id: uuid.UUID
    kind: TaskKind
    status: TaskStatus
    dedupe_key: str
    reason: str
    created_at: datetime
    contact_id: uuid.UUID | None = None
    address: str | None = None
    interaction_id: uuid.UUID | None = None
    thread_id: uuid.UUID | None = None
    assignee_id: str | None = None
    attempts: int = 1
    due_at: datetime | None = None
    closed_at: datetime | None = None
    closed_by_interaction_id: uuid.UUID | None = None
    closed_by_manager_id: str | None = None
    close_reason: str | None = None
    response_s: int | None = None
    version: int = 0  # 0: not stored yet

    def snapshot(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "contact_id": _s(self.contact_id),
            "status": self.status,
            "assignee_id": self.assignee_id,
            "close_reason": self.close_reason,
            "closed_by_manager_id": self.closed_by_manager_id,
        }


@dataclass
class Interaction:
    """A row of `interactions`."""

    id: uuid.UUID
    kind: Literal["call", "email"]
    source: str
    external_id: str
    direction: str
    version: int
    counterpart: str | None = None
    counterpart_raw: str | None = None
    counterpart_is_e164: bool = False
    our_address: str | None = None
    agent: str | None = None
    manager_id: str | None = None
    contact_id: uuid.UUID | None = None
    phase: str | None = None
    auto_status: str | None = None
    outcome: str | None = None
    started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration_s: int | None = None
    talk_s: int | None = None
    recording_ref: str | None = None
    ring_s: int | None = None  # folded from the call's events each time, not stored
    thread_id: uuid.UUID | None = None
    internal: bool = False
    spam_score: float | None = None
    spam_reasons: tuple[str, ...] = ()
    flag: str | None = None
    flag_kind: str | None = None
    outcome_by: str | None = None
    outcome_at: datetime | None = None
    suggested_outcome: str | None = None
    suggestion_reasons: tuple[str, ...] = ()

    @property
    def phone(self) -> str | None:
        """The counterpart when it is a phone number ingest parsed to E.164 (never a raw value)."""
        return self.counterpart if self.kind == "call" and self.counterpart_is_e164 else None

    def snapshot(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "flag": self.flag, "contact_id": _s(self.contact_id)}


@dataclass(frozen=True, slots=True)
class Meeting:
    id: uuid.UUID
    contact_id: uuid.UUID
    interaction_id: uuid.UUID | None
    manager_id: str
    meeting_date: date
    last_name: str
    first_name: str
    phone: str | None
    email: str | None
    topic: str
    result: str


@dataclass(frozen=True, slots=True)
class Consent:
    """A contact's consent to campaigns on one channel, as last recorded."""

    contact_id: uuid.UUID
    channel: str
    granted: bool
    source: str
    recorded_by: str
    recorded_at: datetime

    def snapshot(self) -> dict[str, Any]:
        return {"granted": self.granted, "source": self.source}


@dataclass(frozen=True, slots=True)
class Plan:
    manager_id: str
    metric: str
    period: str
    target: int


@dataclass(frozen=True, slots=True)
class Deal:
    """A row of `deals` (apply_deals.py): immutable, a change is a new value."""

    id: uuid.UUID
    contact_id: uuid.UUID
    manager_id: str
    interaction_id: uuid.UUID | None
    status: Literal["open", "won", "lost"]
    amount: Decimal | None
    opened_at: datetime
    closed_at: datetime | None = None

    def snapshot(self) -> dict[str, Any]:
        return {
            "contact_id": str(self.contact_id),
            "manager_id": self.manager_id,
            "status": self.status,
            "amount": None if self.amount is None else str(self.amount),
        }


@dataclass(frozen=True, slots=True)
class AuditEntry:
    action_event_id: str
    action_kind: str
    actor_id: str
    acted_at: datetime
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Cause:
    """What the changes being made now are audited as: a person's action, or an event the classifier applied
    (actor `classifier`, kind `call` or `email`, at the event's own time so a replay audits the same)."""

    event_id: str
    kind: str
    actor_id: str
    at: datetime


CLASSIFIER = "classifier"


@dataclass(frozen=True, slots=True)
class Mark:
    address: str
    manager_id: str
    verdict: Verdict
    marked_at: datetime


@dataclass
class BatchState:
    managers: dict[str, Manager] = field(default_factory=dict)
    extensions: dict[str, str] = field(default_factory=dict)
    open_task_counts: dict[str, int] = field(default_factory=dict)
    interactions: dict[uuid.UUID, Interaction] = field(default_factory=dict)
    contacts: dict[uuid.UUID, Contact] = field(default_factory=dict)
    addresses: dict[str, Address] = field(default_factory=dict)
    numbers: dict[str, NumberStats] = field(default_factory=dict)
    ranges: dict[str, tuple[tuple[str, datetime], ...]] = field(default_factory=dict)
    """Per range of close numbers (`score_spam.range_of`), the unknown numbers that called it lately."""
    tasks: dict[uuid.UUID, Task] = field(default_factory=dict)
    open_index: dict[tuple[str, str], uuid.UUID] = field(default_factory=dict)
    plans: dict[tuple[str, str, str], Plan] = field(default_factory=dict)
    marks: dict[tuple[str, str], Mark] = field(default_factory=dict)
    """Each manager's latest verdict per number (number, manager id)."""
    meetings: dict[uuid.UUID, Meeting] = field(default_factory=dict)
    consents: dict[tuple[uuid.UUID, str], Consent] = field(default_factory=dict)
    deals: dict[uuid.UUID, Deal] = field(default_factory=dict)
    # Appended, never loaded: the links this batch made and the audit of its changes.
    task_links: set[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=set)
    audit: list[AuditEntry] = field(default_factory=list)
    cause: Cause | None = None
    """Set while a record is applied: every change made meanwhile is audited as its."""

    def audit_change(
        self, entity: str, entity_id: object, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> None:
        """Records a change in the audit trail, as the current cause's (nothing when nothing changed)."""
        if before == after or self.cause is None:
            return
        c = self.cause
        self.audit.append(AuditEntry(c.event_id, c.kind, c.actor_id, c.at, entity, str(entity_id), before, after))

    def add_contact(self, contact: Contact) -> None:
        self.contacts[contact.id] = contact
        self.audit_change("contact", contact.id, None, contact.snapshot())

    def contact_of(self, address: str) -> uuid.UUID | None:
        row = self.addresses.get(address)
        return row.contact_id if row is not None else None

    def open_task(self, kind: TaskKind, dedupe_key: str) -> Task | None:
        task_id = self.open_index.get((kind, dedupe_key))
        return self.tasks[task_id] if task_id is not None else None

    def put_task(self, task: Task) -> None:
        """Adds or updates a task, keeping the open-task index and the per-manager open counts right, and audits
        the change."""
        previous = self.tasks.get(task.id)
        if previous is not None:
            old_key = (previous.kind, previous.dedupe_key)
            if self.open_index.get(old_key) == task.id:
                del self.open_index[old_key]
                if previous.assignee_id:
                    count = self.open_task_counts.get(previous.assignee_id, 0) - 1
                    self.open_task_counts[previous.assignee_id] = count
        key = (task.kind, task.dedupe_key)
        self.audit_change("task", task.id, previous.snapshot() if previous else None, task.snapshot())
        self.tasks[task.id] = task
        if task.status == "open":
            self.open_index[key] = task.id
            if task.assignee_id:
                self.open_task_counts[task.assignee_id] = self.open_task_counts.get(task.assignee_id, 0) + 1

    def load_task(self, task: Task) -> None:
        """A task as stored: indexed (its assignee's open count already includes it)."""
        self.tasks[task.id] = task
        if task.status == "open":
            self.open_index[(task.kind, task.dedupe_key)] = task.id

    def manager_for_agent(self, agent: str | None) -> str | None:
        if agent is None:
            return None
        if (manager_id := self.extensions.get(agent)) is not None:
            return manager_id
        return agent if agent in self.managers else None

    def manager_for_mailbox(self, address: str | None) -> str | None:
        if address is None:
            return None
        address = address.lower()
        return next((m.id for m in self.managers.values() if m.email == address), None)


def _s(value: object) -> str | None:
    return None if value is None else str(value)
