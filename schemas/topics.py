"""The topic catalogue: every topic name, its key, partitions and retention. Topic names live here only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter

from schemas.actions import ACTION_ADAPTER
from schemas.events import CallEvent, EmailEvent
from schemas.records import CallbackSla, DeadLetter, InteractionChanged, ManagerDaily, TaskChanged, TeamDaily

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    key: str
    partitions: int
    retention_ms: int | None = None
    compacted: bool = False

    def config(self) -> dict[str, str]:
        cfg = {"cleanup.policy": "compact" if self.compacted else "delete"}
        if self.retention_ms is not None:
            cfg["retention.ms"] = str(self.retention_ms)
        return cfg


CALLS = Topic("touchpoint.calls.v1", "counterpart (E.164, or call id for internal calls)", 8, 7 * DAY_MS)
EMAILS = Topic("touchpoint.emails.v1", "counterpart (lower-cased email address)", 8, 7 * DAY_MS)
ACTIONS = Topic("touchpoint.actions.v1", "id of the record the action changes", 8, 7 * DAY_MS)
INTERACTIONS = Topic("touchpoint.interactions.v1", "interaction id", 8, 30 * DAY_MS)
TASKS = Topic("touchpoint.tasks.v1", "task id", 8, 30 * DAY_MS)
REPORTS_MANAGER_DAILY = Topic("touchpoint.reports.manager-daily.v1", "manager_id|date", 4, compacted=True)
REPORTS_TEAM_DAILY = Topic("touchpoint.reports.team-daily.v1", "team|date", 4, compacted=True)
REPORTS_CALLBACK_SLA = Topic("touchpoint.reports.callback-sla.v1", "manager_id|date", 4, compacted=True)
# Operators only: dead letters carry raw payloads (names, numbers). Short retention; keyed without PII.
DLQ = Topic("touchpoint.dlq.v1", "<topic>:<partition>:<offset> of the original record", 4, 7 * DAY_MS)

ALL_TOPICS: tuple[Topic, ...] = (
    CALLS,
    EMAILS,
    ACTIONS,
    INTERACTIONS,
    TASKS,
    REPORTS_MANAGER_DAILY,
    REPORTS_TEAM_DAILY,
    REPORTS_CALLBACK_SLA,
    DLQ,
)
REPORT_TOPICS: tuple[Topic, ...] = (REPORTS_MANAGER_DAILY, REPORTS_TEAM_DAILY, REPORTS_CALLBACK_SLA)

# What each topic's records are: a model, or a discriminated union of models (given as its TypeAdapter).
RECORD_MODELS: dict[Topic, type[BaseModel] | TypeAdapter[Any]] = {
    CALLS: CallEvent,
    EMAILS: EmailEvent,
    ACTIONS: ACTION_ADAPTER,
    INTERACTIONS: InteractionChanged,
    TASKS: TaskChanged,
    REPORTS_MANAGER_DAILY: ManagerDaily,
    REPORTS_TEAM_DAILY: TeamDaily,
    REPORTS_CALLBACK_SLA: CallbackSla,
    DLQ: DeadLetter,
}


@dataclass(frozen=True, slots=True)
class TopicNames:
    """Resolves catalogue topics to the names used on one cluster. Production leaves the namespace empty, so
    names are exactly the contract above; tests and staging set TOUCHPOINT_TOPIC_NAMESPACE to share a cluster."""

    namespace: str = ""

    def __call__(self, topic: Topic) -> str:
        return f"{self.namespace}.{topic.name}" if self.namespace else topic.name

    def lookup(self, name: str) -> Topic | None:
        return next((t for t in ALL_TOPICS if self(t) == name), None)
