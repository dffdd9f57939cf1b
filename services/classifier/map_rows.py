"""One mapping per table: its columns with their PostgreSQL types, and the row mappers to and from the batch state."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.classifier.batch_state import Consent, Contact, Interaction, Mark, Meeting, Task
from services.classifier.score_spam import NumberStats, Verdict

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Table:
    """A table written set-based: `columns` are (name, PostgreSQL type), the first `key` of them the primary key."""

    name: str
    columns: tuple[tuple[str, str], ...]
    key: int = 1

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def unnest(self) -> str:
        """`unnest($1::uuid[], $2::text[], …)`, one array parameter per column, in column order."""
        return "unnest(" + ", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(self.columns, 1)) + ")"

    def arrays(self, rows: Sequence[Row]) -> list[list[Any]]:
        """The rows as one array per column; JSON columns are encoded (asyncpg takes jsonb as text)."""
        if not rows:
            return [[] for _ in self.columns]
        arrays = [list(column) for column in zip(*rows, strict=True)]
        for i, (_, pg_type) in enumerate(self.columns):
            if pg_type == "jsonb":
                arrays[i] = [v if v is None or isinstance(v, str) else json.dumps(v) for v in arrays[i]]
        return arrays

    def row_key(self, row: Row) -> Row:
        return row[: self.key]


MANAGERS = Table(
    "managers",
    (("id", "text"), ("name", "text"), ("email", "text"), ("on_duty", "bool"), ("active", "bool"), ("team", "text")),
)
MANAGER_EXTENSIONS = Table("manager_extensions", (("extension", "text"), ("manager_id", "text")))
CONTACTS = Table(
    "contacts",
    (
        ("id", "uuid"),
        ("owner_id", "text"),
        ("first_name", "text"),
        ("last_name", "text"),
        ("created_automatically", "bool"),
        ("is_lead", "bool"),
        ("merged_into", "uuid"),
        ("occurred_at", "timestamptz"),
        ("version", "int"),
    ),
)
CONTACT_ADDRESSES = Table(
    "contact_addresses", (("address", "text"), ("contact_id", "uuid"), ("kind", "text"), ("undeliverable", "bool"))
)
NUMBER_STATS = Table(
    "number_stats",
    (
        ("address", "text"),
        ("list", "text"),
        ("calls", "int"),
        ("short_calls", "int"),
        ("evidence", "int"),
        ("evidence_reason", "text"),
        ("one_ring", "int"),
        ("brief_by", "jsonb"),
    ),
)
NUMBER_RANGES = Table("number_ranges", (("prefix", "text"), ("recent", "jsonb")))
NUMBER_MARKS = Table(
    "number_marks",
    (("address", "text"), ("manager_id", "text"), ("verdict", "text"), ("marked_at", "timestamptz")),
    key=2,
)
TASKS = Table(
    "tasks",
    (
        ("id", "uuid"),
        ("kind", "text"),
        ("status", "text"),
        ("dedupe_key", "text"),
        ("contact_id", "uuid"),
        ("address", "text"),
        ("interaction_id", "uuid"),
        ("thread_id", "uuid"),
        ("assignee_id", "text"),
        ("reason", "text"),
        ("attempts", "int"),
        ("created_at", "timestamptz"),
        ("due_at", "timestamptz"),
        ("closed_at", "timestamptz"),
        ("closed_by_interaction_id", "uuid"),
        ("closed_by_manager_id", "text"),
        ("close_reason", "text"),
        ("response_s", "int"),
    ),
)
TASK_INTERACTIONS = Table("task_interactions", (("task_id", "uuid"), ("interaction_id", "uuid")), key=2)
MEETINGS = Table(
    "meetings",
    (
        ("id", "uuid"),
        ("contact_id", "uuid"),
        ("interaction_id", "uuid"),
        ("manager_id", "text"),
        ("meeting_date", "date"),
        ("last_name", "text"),
        ("first_name", "text"),
        ("phone", "text"),
        ("email", "text"),
        ("topic", "text"),
        ("result", "text"),
    ),
)
CONSENTS = Table(
    "contact_consents",
    (
        ("contact_id", "uuid"),
        ("channel", "text"),
        ("granted", "bool"),
        ("source", "text"),
        ("recorded_by", "text"),
        ("recorded_at", "timestamptz"),
    ),
    key=2,
)
PLANS = Table("plans", (("manager_id", "text"), ("metric", "text"), ("period", "text"), ("target", "int")), key=3)
# The columns the classifier changes (all but kind, source, external_id and version); the text[] columns travel
# as JSON because unnest() would flatten an array of arrays.
INTERACTIONS = Table(
    "interactions",
    (
        ("id", "uuid"),
        ("direction", "text"),
        ("counterpart", "text"),
        ("counterpart_raw", "text"),
        ("counterpart_is_e164", "bool"),
        ("our_address", "text"),
        ("agent", "text"),
        ("manager_id", "text"),
        ("contact_id", "uuid"),
        ("phase", "text"),
        ("auto_status", "text"),
        ("outcome", "text"),
        ("started_at", "timestamptz"),
        ("answered_at", "timestamptz"),
        ("ended_at", "timestamptz"),
        ("duration_s", "int"),
        ("talk_s", "int"),
        ("recording_ref", "text"),
        ("thread_id", "uuid"),
        ("internal", "bool"),
        ("spam_score", "real"),
        ("spam_reasons", "jsonb"),
        ("flag", "text"),
        ("flag_kind", "text"),
        ("outcome_by", "text"),
        ("outcome_at", "timestamptz"),
        ("suggested_outcome", "text"),
        ("suggestion_reasons", "jsonb"),
    ),
)
_TEXT_ARRAYS = tuple(name for name, pg_type in INTERACTIONS.columns if pg_type == "jsonb")
INTERACTION_EVENTS = Table(
    "interaction_events",
    (
        ("event_id", "text"),
        ("interaction_id", "uuid"),
        ("topic", "text"),
        ("partition", "int"),
        ("offset", "bigint"),
        ("occurred_at", "timestamptz"),
        ("payload", "jsonb"),
    ),
)
APPLIED_ACTIONS = Table(
    "applied_actions",
    (
        ("event_id", "text"),
        ("kind", "text"),
        ("actor_id", "text"),
        ("occurred_at", "timestamptz"),
        ("accepted", "bool"),
        ("reason", "text"),
        ("topic", "text"),
        ("partition", "int"),
        ("offset", "bigint"),
    ),
)
AUDIT_LOG = Table(
    "audit_log",
    (
        ("action_event_id", "text"),
        ("action_kind", "text"),
        ("actor_id", "text"),
        ("acted_at", "timestamptz"),
        ("entity", "text"),
        ("entity_id", "text"),
        ("before", "jsonb"),
        ("after", "jsonb"),
    ),
)


def _getter(table: Table, *, skip: int = 0) -> Callable[[Any], Row]:
    """The row of an object whose attributes are named like the table's columns."""
    names = table.names[skip:]
    get = operator.attrgetter(*names)
    return get if len(names) > 1 else lambda obj: (get(obj),)


contact_row = _getter(CONTACTS)
address_row = _getter(CONTACT_ADDRESSES)
mark_row = _getter(NUMBER_MARKS)
task_row = _getter(TASKS)
meeting_row = _getter(MEETINGS)
plan_row = _getter(PLANS)
consent_row = _getter(CONSENTS)
manager_row = _getter(MANAGERS)
interaction_row = _getter(INTERACTIONS)


def number_row(address: str, stats: NumberStats) -> Row:
    return (
        address,
        stats.list,
        stats.calls,
        stats.short_calls,
        stats.evidence,
        stats.evidence_reason,
        stats.one_ring,
        json.dumps(list(stats.brief_by)),
    )


def number_stats_from_row(row: asyncpg.Record, marks: Mapping[str, Verdict]) -> NumberStats:
    brief_by = row["brief_by"]
    return NumberStats(
        row["list"],
        row["calls"],
        row["short_calls"],
        marks,
        row["evidence"],
        row["evidence_reason"],
        row["one_ring"],
        tuple(json.loads(brief_by) if isinstance(brief_by, str) else brief_by),
    )


def range_row(prefix: str, recent: tuple[tuple[str, datetime], ...]) -> Row:
    return (prefix, json.dumps([[number, at.isoformat()] for number, at in recent]))


def range_from_row(row: asyncpg.Record) -> tuple[tuple[str, datetime], ...]:
    recent = json.loads(row["recent"]) if isinstance(row["recent"], str) else row["recent"]
    return tuple((number, datetime.fromisoformat(at)) for number, at in recent)


def interaction_from_row(row: asyncpg.Record) -> Interaction:
    columns: dict[str, Any] = {c: row[c] for c in INTERACTIONS.names}
    columns |= {c: tuple(row[c] or ()) for c in _TEXT_ARRAYS}
    return Interaction(
        kind=row["kind"], source=row["source"], external_id=row["external_id"], version=row["version"], **columns
    )


def task_from_row(row: asyncpg.Record) -> Task:
    return Task(**{c: row[c] for c in TASKS.names}, version=row["version"])


def contact_from_row(row: asyncpg.Record) -> Contact:
    return Contact(**{c: row[c] for c in CONTACTS.names})


def meeting_from_row(row: asyncpg.Record) -> Meeting:
    return Meeting(**{c: row[c] for c in MEETINGS.names})


def mark_from_row(row: asyncpg.Record) -> Mark:
    return Mark(**{c: row[c] for c in NUMBER_MARKS.names})


def consent_from_row(row: asyncpg.Record) -> Consent:
    return Consent(**{c: row[c] for c in CONSENTS.names})
