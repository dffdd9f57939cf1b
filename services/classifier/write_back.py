"""Writes back what the batch changed: every row that differs from the rows as loaded, one set-based statement per
table, plus what the batch appended (task links, audit entries, applied actions)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from schemas.events import CallEvent, EmailEvent
from services.classifier.batch_state import BatchState, Interaction, Task
from services.classifier.decode import ConsumedRecord
from services.classifier.map_rows import (
    APPLIED_ACTIONS,
    AUDIT_LOG,
    CONSENTS,
    CONTACT_ADDRESSES,
    CONTACTS,
    INTERACTIONS,
    MANAGER_EXTENSIONS,
    MANAGERS,
    MEETINGS,
    NUMBER_MARKS,
    NUMBER_RANGES,
    NUMBER_STATS,
    PLANS,
    TASK_INTERACTIONS,
    TASKS,
    Row,
    Table,
    address_row,
    consent_row,
    contact_row,
    interaction_row,
    manager_row,
    mark_row,
    meeting_row,
    number_row,
    plan_row,
    range_row,
    task_row,
)
from services.runtime.postgres import Connection

Snapshot = dict[Table, dict[Row, Row]]
"""Every row of the batch state, per table and key."""

_INTERACTION_UPDATE = Table("interactions", (*INTERACTIONS.columns, ("version", "int")))
_PHASE = INTERACTIONS.names.index("phase")


def snapshot(state: BatchState) -> Snapshot:
    """The rows the state stands for. Taken once as loaded and once before writing; the write is the difference."""

    def keyed(table: Table, rows: Iterable[Row]) -> dict[Row, Row]:
        return {table.row_key(row): row for row in rows}

    return {
        MANAGERS: keyed(MANAGERS, map(manager_row, state.managers.values())),
        MANAGER_EXTENSIONS: {(ext,): (ext, manager_id) for ext, manager_id in state.extensions.items()},
        CONTACTS: keyed(CONTACTS, map(contact_row, state.contacts.values())),
        CONTACT_ADDRESSES: keyed(CONTACT_ADDRESSES, map(address_row, state.addresses.values())),
        NUMBER_STATS: keyed(NUMBER_STATS, (number_row(a, s) for a, s in state.numbers.items())),
        NUMBER_MARKS: keyed(NUMBER_MARKS, map(mark_row, state.marks.values())),
        NUMBER_RANGES: keyed(NUMBER_RANGES, (range_row(p, r) for p, r in state.ranges.items())),
        TASKS: keyed(TASKS, map(task_row, state.tasks.values())),
        MEETINGS: keyed(MEETINGS, map(meeting_row, state.meetings.values())),
        PLANS: keyed(PLANS, map(plan_row, state.plans.values())),
        CONSENTS: keyed(CONSENTS, map(consent_row, state.consents.values())),
        INTERACTIONS: keyed(INTERACTIONS, map(interaction_row, state.interactions.values())),
    }


@dataclass(frozen=True, slots=True)
class Changes:
    """Per table, the rows that are new or differ from the loaded ones (by key order), and the keys gone."""

    rows: dict[Table, list[Row]]
    removed: dict[Table, list[Row]]


def compare(loaded: Snapshot, now: Snapshot) -> Changes:
    rows: dict[Table, list[Row]] = {}
    removed: dict[Table, list[Row]] = {}
    for table, current in now.items():
        before = loaded.get(table, {})
        rows[table] = sorted(row for k, row in current.items() if before.get(k) != row)  # keys lead each row
        removed[table] = sorted(k for k in before if k not in current)
    return Changes(rows, removed)


@dataclass(frozen=True, slots=True)
class Written:
    """The interactions (at their new versions) and tasks (with theirs) that changed: what the outbox announces."""

    interactions: list[Interaction]
    tasks: list[tuple[Task, int]]


async def write_back(
    conn: Connection,
    state: BatchState,
    loaded: Snapshot,
    actions: Sequence[ConsumedRecord],
    rejected: Mapping[str, str],
) -> Written:
    changes = compare(loaded, snapshot(state))
    rows = changes.rows
    await _upsert(conn, MANAGERS, rows[MANAGERS], ("name", "email", "on_duty", "active", "team"))
    if gone := changes.removed[MANAGER_EXTENSIONS]:
        await conn.execute("DELETE FROM manager_extensions WHERE extension = ANY($1::text[])", [ext for (ext,) in gone])
    await _upsert(conn, MANAGER_EXTENSIONS, rows[MANAGER_EXTENSIONS], ("manager_id",), touch=False)
    contacts = [(*row[:-1], row[-1] + 1) for row in rows[CONTACTS]]  # the version, as stored, moves on by one
    await _upsert(
        conn, CONTACTS, contacts, ("owner_id", "first_name", "last_name", "is_lead", "merged_into", "version")
    )
    if gone := changes.removed[CONTACT_ADDRESSES]:  # an operator removed them from a contact
        await conn.execute("DELETE FROM contact_addresses WHERE address = ANY($1::text[])", [a for (a,) in gone])
    await _upsert(conn, CONTACT_ADDRESSES, rows[CONTACT_ADDRESSES], ("contact_id", "undeliverable"), touch=False)
    await _upsert(conn, NUMBER_STATS, rows[NUMBER_STATS], NUMBER_STATS.names[1:])
    await _upsert(conn, NUMBER_RANGES, rows[NUMBER_RANGES], ("recent",))
    await _upsert(conn, NUMBER_MARKS, rows[NUMBER_MARKS], ("verdict", "marked_at"), touch=False)
    interactions = await _write_interactions(conn, state, loaded[INTERACTIONS], rows[INTERACTIONS])
    tasks = await _write_tasks(conn, state, rows[TASKS])
    links = sorted(state.task_links)
    await _insert(conn, TASK_INTERACTIONS, links, "ON CONFLICT DO NOTHING")
    await _upsert(conn, MEETINGS, rows[MEETINGS], MEETINGS.names[1:])
    await _upsert(conn, PLANS, rows[PLANS], ("target",))
    await _upsert(conn, CONSENTS, rows[CONSENTS], CONSENTS.names[2:])
    audit = [
        (e.action_event_id, e.action_kind, e.actor_id, e.acted_at, e.entity, e.entity_id, e.before, e.after)
        for e in state.audit
    ]
    await _insert(conn, AUDIT_LOG, audit)
    applied = []
    for r in actions:
        a = r.event
        assert not isinstance(a, CallEvent | EmailEvent)
        accepted = a.event_id not in rejected
        applied.append(
            (a.event_id, a.kind, a.actor_id, a.occurred_at, accepted, rejected.get(a.event_id), r.topic, r.partition,
             r.offset)
        )  # fmt: skip
    await _insert(conn, APPLIED_ACTIONS, applied, "ON CONFLICT DO NOTHING")
    return Written(interactions, tasks)


async def _write_interactions(
    conn: Connection, state: BatchState, loaded: Mapping[Row, Row], rows: Sequence[Row]
) -> list[Interaction]:
    if not rows:
        return []
    changed = []
    for row in rows:
        ix = state.interactions[row[0]]
        before = loaded.get(row[:1])
        # A row is inserted (version 1, no phase) before its first state: that first state is version 1.
        ix.version += 0 if before is None or before[_PHASE] is None else 1
        changed.append(ix)
    sets = ", ".join(
        f"{c} = ARRAY(SELECT jsonb_array_elements_text(v.{c}))" if t == "jsonb" else f"{c} = v.{c}"
        for c, t in _INTERACTION_UPDATE.columns[1:]
    )
    await conn.execute(
        f"""UPDATE interactions i SET {sets}, updated_at = now()
            FROM {_INTERACTION_UPDATE.unnest()} AS v({", ".join(_INTERACTION_UPDATE.names)})
            WHERE i.id = v.id""",  # noqa: S608 - fixed column names
        *_INTERACTION_UPDATE.arrays([(*row, ix.version) for row, ix in zip(rows, changed, strict=True)]),
    )
    return changed


async def _write_tasks(conn: Connection, state: BatchState, rows: Sequence[Row]) -> list[tuple[Task, int]]:
    tasks = [state.tasks[row[0]] for row in rows]
    # Closing rows first: a task closed and its successor opened in one batch share the open-task key.
    for status_open in (False, True):
        group = [row for row, task in zip(rows, tasks, strict=True) if (task.status == "open") == status_open]
        if group:
            await conn.execute(_task_upsert(), *TASKS.arrays(group))
    return [(task, task.version + 1) for task in tasks]


@functools.cache
def _task_upsert() -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in TASKS.names if c not in ("id", "kind", "created_at"))
    return f"""INSERT INTO tasks ({", ".join(TASKS.names)}, version)
        SELECT *, 1 FROM {TASKS.unnest()}
        ON CONFLICT (id) DO UPDATE SET {updates}, version = tasks.version + 1, updated_at = now()"""  # noqa: S608 - fixed columns


async def _upsert(
    conn: Connection, table: Table, rows: Sequence[Row], update: Sequence[str], *, touch: bool = True
) -> None:
    if not rows:
        return
    await conn.execute(_upsert_sql(table, tuple(update), touch), *table.arrays(rows))


@functools.cache
def _upsert_sql(table: Table, update: tuple[str, ...], touch: bool) -> str:
    sets = ", ".join(f"{c} = excluded.{c}" for c in update) + (", updated_at = now()" if touch else "")
    key = ", ".join(table.names[: table.key])
    return f"""INSERT INTO {table.name} ({", ".join(table.names)}) SELECT * FROM {table.unnest()}
        ON CONFLICT ({key}) DO UPDATE SET {sets}"""  # noqa: S608 - fixed table and column names


async def _insert(conn: Connection, table: Table, rows: Sequence[Row], conflict: str = "") -> None:
    if not rows:
        return
    await conn.execute(
        f"""INSERT INTO {table.name} ({", ".join(f'"{c}"' for c in table.names)})
            SELECT * FROM {table.unnest()} {conflict}""",  # noqa: S608 - fixed table and column names
        *table.arrays(rows),
    )
