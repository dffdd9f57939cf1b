"""Read queries over the domain tables, each narrowed to the manager ids the caller's grant reaches (None: all).
Reporting never writes domain tables; what people change goes out as actions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg

_COLUMNS = """i.id, i.kind, i.source, i.external_id, i.direction, i.counterpart, i.our_address, i.agent, i.manager_id,
              i.contact_id, i.phase, i.auto_status, i.outcome, i.started_at, i.answered_at, i.ended_at, i.duration_s,
              i.talk_s, i.recording_ref, i.flag, i.spam_reasons, i.suggested_outcome, i.suggestion_reasons,
              i.version, i.updated_at"""
# Personal data in an interaction row: shown only to roles holding the personal-data grant.
_PERSONAL = ("counterpart", "recording_ref", "first_name", "last_name", "contact_name")
HIDDEN = "•••"
# An interaction is within reach when its manager is, or when a task about it is assigned within reach (a missed
# call from an unknown number is the assignee's to call back).
_WITHIN = """($1::text[] IS NULL OR i.manager_id = ANY($1) OR EXISTS (
                SELECT 1 FROM task_interactions ti JOIN tasks t ON t.id = ti.task_id
                WHERE ti.interaction_id = i.id AND t.assignee_id = ANY($1)))"""


def jsonable(row: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime | date):
            out[key] = value.isoformat()
        elif isinstance(value, uuid.UUID):
            out[key] = str(value)
        else:
            out[key] = value
    return out


def mask(item: dict[str, Any]) -> dict[str, Any]:
    """Personal data replaced by HIDDEN; an email's Message-ID (its external id) too: it names the sender's domain."""
    personal = (*_PERSONAL, "external_id") if item.get("kind") == "email" else _PERSONAL
    return {k: (HIDDEN if k in personal and v is not None else v) for k, v in item.items()}


def encode_cursor(updated_at: datetime, iid: uuid.UUID) -> str:
    return f"{updated_at.isoformat()}~{iid}"


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Raises ValueError for a cursor we did not make."""
    stamp, _, iid = cursor.partition("~")
    parsed = datetime.fromisoformat(stamp)
    if parsed.tzinfo is None:
        raise ValueError("cursor time has no offset")
    return parsed, uuid.UUID(iid)


@dataclass(frozen=True, slots=True)
class InteractionPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class InteractionFilter:
    counterpart: str | None = None
    manager_id: str | None = None
    days: tuple[date, date] | None = None  # [first, after last), in `timezone`
    timezone: str = "UTC"


async def list_interactions(
    pool: asyncpg.Pool, managers: list[str] | None, limit: int, cursor: str | None, only: InteractionFilter
) -> InteractionPage:
    """Newest change first; `cursor` continues after the last item of the previous page."""
    after = decode_cursor(cursor) if cursor else None
    rows = await pool.fetch(
        f"""SELECT {_COLUMNS} FROM interactions i
            WHERE i.phase IS NOT NULL AND {_WITHIN}
              AND ($2::timestamptz IS NULL OR (i.updated_at, i.id) < ($2::timestamptz, $3::uuid))
              AND ($4::text IS NULL OR i.counterpart = $4)
              AND ($6::text IS NULL OR i.manager_id = $6)
              AND ($7::date IS NULL OR ((i.started_at AT TIME ZONE $9)::date >= $7
                                        AND (i.started_at AT TIME ZONE $9)::date < $8))
            ORDER BY i.updated_at DESC, i.id DESC LIMIT $5""",  # noqa: S608 - fixed column list
        managers,
        after[0] if after else None,
        after[1] if after else None,
        only.counterpart,
        limit + 1,
        only.manager_id,
        only.days[0] if only.days else None,
        only.days[1] if only.days else None,
        only.timezone,
    )
    items = [jsonable(r) for r in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1]["updated_at"], rows[limit - 1]["id"]) if len(rows) > limit else None
    return InteractionPage(items, next_cursor)


async def get_interaction(pool: asyncpg.Pool, managers: list[str] | None, iid: uuid.UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS} FROM interactions i WHERE i.id = $2 AND i.phase IS NOT NULL AND {_WITHIN}",  # noqa: S608
        managers,
        iid,
    )
    return jsonable(row) if row is not None else None


async def awaiting_confirmation(pool: asyncpg.Pool, managers: list[str] | None, limit: int) -> list[dict[str, Any]]:
    """Finished calls and emails whose outcome no person has set, newest first."""
    rows = await pool.fetch(
        f"""SELECT {_COLUMNS}, c.first_name, c.last_name FROM interactions i
            LEFT JOIN contacts c ON c.id = i.contact_id
            WHERE i.outcome IS NULL AND NOT i.internal AND {_WITHIN}
              AND ((i.kind = 'call' AND i.phase = 'ended' AND i.auto_status IS NOT NULL)
                   OR (i.kind = 'email' AND i.auto_status IS NOT NULL))
            ORDER BY i.started_at DESC NULLS LAST, i.id DESC LIMIT $2""",  # noqa: S608 - fixed column list
        managers,
        limit,
    )
    return [jsonable(r) for r in rows]


async def open_tasks(pool: asyncpg.Pool, managers: list[str] | None, now: datetime) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        """SELECT t.id, t.kind, t.reason, t.attempts, t.assignee_id, t.contact_id, t.address AS counterpart,
                  t.interaction_id, t.created_at, t.due_at, (t.due_at IS NOT NULL AND t.due_at < $2) AS overdue,
                  c.first_name, c.last_name
           FROM tasks t LEFT JOIN contacts c ON c.id = t.contact_id
           WHERE t.status = 'open' AND ($1::text[] IS NULL OR t.assignee_id = ANY($1))
           ORDER BY t.due_at NULLS LAST, t.created_at LIMIT 200""",
        managers,
        now,
    )
    return [jsonable(r) for r in rows]


def periods_of(day: date) -> tuple[str, str, str]:
    """The plan periods a day lies in: the day, its ISO week, its month."""
    year, week, _ = day.isocalendar()
    return day.isoformat(), f"{year}-W{week:02d}", f"{day.year}-{day.month:02d}"


def period_bounds(period: str) -> tuple[date, date]:
    """[first day, day after the last) of a plan period."""
    if "W" in period:
        year, week = period.split("-W")
        start = date.fromisocalendar(int(year), int(week), 1)
        return start, start + timedelta(days=7)
    parts = period.split("-")
    if len(parts) == 3:
        start = date.fromisoformat(period)
        return start, start + timedelta(days=1)
    start = date(int(parts[0]), int(parts[1]), 1)
    return start, date(start.year + start.month // 12, start.month % 12 + 1, 1)


async def plan_progress(pool: asyncpg.Pool, manager_id: str, today: date, tz: str) -> list[dict[str, Any]]:
    """Each plan of the manager covering today, with what is done so far where it can be counted: contacts
    reached (connected calls with a client) and meetings recorded. Deals are not in the data yet (done: null)."""
    plans = await pool.fetch(
        "SELECT metric, period, target FROM plans WHERE manager_id = $1 AND period = ANY($2) ORDER BY period, metric",
        manager_id,
        list(periods_of(today)),
    )
    out = []
    for plan in plans:
        start, end = period_bounds(plan["period"])
        done: int | None = None
        if plan["metric"] == "contacts":
            done = await pool.fetchval(
                """SELECT count(DISTINCT contact_id) FROM interactions
                   WHERE manager_id = $1 AND outcome = 'connected' AND contact_id IS NOT NULL
                     AND (started_at AT TIME ZONE $4)::date >= $2 AND (started_at AT TIME ZONE $4)::date < $3""",
                manager_id,
                start,
                end,
                tz,
            )
        elif plan["metric"] == "meetings":
            done = await pool.fetchval(
                "SELECT count(*) FROM meetings WHERE manager_id = $1 AND meeting_date >= $2 AND meeting_date < $3",
                manager_id,
                start,
                end,
            )
        out.append({"metric": plan["metric"], "period": plan["period"], "target": plan["target"], "done": done})
    return out


_CONTACT = """c.id, c.owner_id, c.first_name, c.last_name, c.is_lead, c.created_automatically, c.merged_into, c.version,
              c.updated_at"""


async def get_contact(pool: asyncpg.Pool, managers: list[str] | None, cid: uuid.UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        f"SELECT {_CONTACT} FROM contacts c WHERE c.id = $2 AND ($1::text[] IS NULL OR c.owner_id = ANY($1))",  # noqa: S608
        managers,
        cid,
    )
    if row is None:
        return None
    contact = jsonable(row)
    if row["merged_into"] is not None:
        return contact  # a merged duplicate keeps nothing of its own: it only says where everything went
    contact["addresses"] = [
        jsonable(r)
        for r in await pool.fetch(
            "SELECT address, kind, undeliverable FROM contact_addresses WHERE contact_id = $1 ORDER BY kind, address",
            cid,
        )
    ]
    contact["interactions"] = [
        jsonable(r)
        for r in await pool.fetch(
            """SELECT id, kind, direction, auto_status, outcome, started_at FROM interactions
               WHERE contact_id = $1 ORDER BY started_at DESC NULLS LAST LIMIT 20""",
            cid,
        )
    ]
    contact["consents"] = [
        jsonable(r)
        for r in await pool.fetch(
            """SELECT channel, granted, source, recorded_by, recorded_at FROM contact_consents
               WHERE contact_id = $1 ORDER BY channel""",
            cid,
        )
    ]
    contact["meetings"] = [
        jsonable(r)
        for r in await pool.fetch(
            "SELECT id, meeting_date, topic, result FROM meetings WHERE contact_id = $1 ORDER BY meeting_date DESC",
            cid,
        )
    ]
    return contact


async def search_contacts(
    pool: asyncpg.Pool, managers: list[str] | None, *, address: str | None, name: str | None, limit: int = 50
) -> list[dict[str, Any]]:
    """By an exact address (E.164 number or lower-cased email) or by a part of a name; merged duplicates are gone
    (their addresses moved to the contact they were merged into)."""
    rows = await pool.fetch(
        f"""SELECT {_CONTACT},
                   coalesce(array_agg(a.address ORDER BY a.kind, a.address) FILTER (WHERE a.address IS NOT NULL),
                            '{{}}') AS addresses
            FROM contacts c LEFT JOIN contact_addresses a ON a.contact_id = c.id
            WHERE c.merged_into IS NULL AND ($1::text[] IS NULL OR c.owner_id = ANY($1))
              AND ($2::text IS NULL OR c.id IN (SELECT contact_id FROM contact_addresses WHERE address = $2))
              AND ($3::text IS NULL OR (coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')) ILIKE $3
                   OR (coalesce(c.last_name, '') || ' ' || coalesce(c.first_name, '')) ILIKE $3)
            GROUP BY c.id ORDER BY c.last_name NULLS LAST, c.first_name NULLS LAST, c.id LIMIT $4""",  # noqa: S608
        managers,
        address,
        None if name is None else "%" + name.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%",
        limit,
    )
    return [jsonable(r) for r in rows]


async def audit_trail(pool: asyncpg.Pool, managers: list[str] | None, limit: int) -> list[dict[str, Any]]:
    """Changes to records within reach (interactions, contacts, tasks, meetings), and what the managers within
    reach did themselves; newest first."""
    rows = await pool.fetch(
        """SELECT a.id, a.action_kind, a.actor_id, a.acted_at, a.entity, a.entity_id, a.before, a.after
           FROM audit_log a
           WHERE $1::text[] IS NULL OR a.actor_id = ANY($1)
              OR (a.entity = 'interaction' AND EXISTS (SELECT 1 FROM interactions i
                      WHERE i.id::text = a.entity_id AND i.manager_id = ANY($1)))
              OR (a.entity = 'contact' AND EXISTS (SELECT 1 FROM contacts c
                      WHERE c.id::text = a.entity_id AND c.owner_id = ANY($1)))
              OR (a.entity = 'task' AND EXISTS (SELECT 1 FROM tasks t
                      WHERE t.id::text = a.entity_id AND t.assignee_id = ANY($1)))
              OR (a.entity = 'meeting' AND EXISTS (SELECT 1 FROM meetings m
                      WHERE m.id::text = a.entity_id AND m.manager_id = ANY($1)))
           ORDER BY a.id DESC LIMIT $2""",
        managers,
        limit,
    )
    return [jsonable(r) for r in rows]


async def managers_list(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        """SELECT m.id, m.name, m.email, m.active, m.on_duty,
                  coalesce(m.team, (SELECT u.team FROM users u WHERE u.manager_id = m.id AND u.active LIMIT 1)) AS team
           FROM managers m ORDER BY m.active DESC, m.id"""
    )
    return [jsonable(r) for r in rows]


async def manager_base(pool: asyncpg.Pool, manager_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A manager's contacts, and their open tasks that no contact carries with it (reassigning a contact moves
    its open tasks too): those still assigned to them, and those the classifier unassigned when the manager was
    deactivated (the audit trail says whose they were)."""
    contacts = await pool.fetch(
        """SELECT id, first_name, last_name FROM contacts WHERE owner_id = $1 AND merged_into IS NULL
           ORDER BY last_name NULLS LAST, id""",
        manager_id,
    )
    tasks = await pool.fetch(
        """SELECT t.id, t.kind, t.reason, t.due_at, t.contact_id FROM tasks t
           LEFT JOIN contacts c ON c.id = t.contact_id
           WHERE t.status = 'open' AND (c.id IS NULL OR c.owner_id IS DISTINCT FROM $1)
             AND (t.assignee_id = $1 OR (t.assignee_id IS NULL AND $1 = (
                  SELECT a.before ->> 'assignee_id' FROM audit_log a
                  WHERE a.entity = 'task' AND a.entity_id = t.id::text
                    AND a.before ->> 'assignee_id' IS NOT NULL AND a.after ->> 'assignee_id' IS NULL
                  ORDER BY a.id DESC LIMIT 1)))
           ORDER BY t.due_at NULLS LAST, t.id""",
        manager_id,
    )
    return [jsonable(r) for r in contacts], [jsonable(r) for r in tasks]


async def queue_state(pool: asyncpg.Pool, managers: list[str] | None) -> dict[str, Any]:
    """A fingerprint of the queue: what awaits confirmation and the open tasks, counted, with the latest change."""
    row = await pool.fetchrow(
        f"""SELECT (SELECT count(*) FROM interactions i
                    WHERE i.outcome IS NULL AND NOT i.internal AND i.auto_status IS NOT NULL
                      AND (i.kind = 'email' OR i.phase = 'ended') AND {_WITHIN}) AS awaiting,
                   (SELECT max(i.updated_at) FROM interactions i WHERE {_WITHIN}) AS changed_at,
                   (SELECT count(*) FROM tasks t
                    WHERE t.status = 'open' AND ($1::text[] IS NULL OR t.assignee_id = ANY($1))) AS open_tasks""",  # noqa: S608
        managers,
    )
    assert row is not None
    return jsonable(row)
