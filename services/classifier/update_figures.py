"""Keeps `manager_daily` up to date in the batch's transaction: the (manager, local day) keys the batch touched are
locked and recomputed from their indexed rows; the rows that changed go to the report topics through the outbox;
`manager_current` takes the batch's changes; `NOTIFY touchpoint_figures, '<manager_id>'` tells live pages, at commit."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from schemas.topics import REPORTS_CALLBACK_SLA, REPORTS_MANAGER_DAILY, REPORTS_TEAM_DAILY, TopicNames
from services.classifier.batch_state import BatchState
from services.classifier.count_figures import (
    COUNTS,
    TIMES,
    Key,
    Marks,
    awaiting_sql,
    callback_changed,
    callback_sla,
    current_changes,
    day_figures_sql,
    marks,
    summed_sql,
    team_digest,
    team_record,
    touched,
    with_version,
)
from services.classifier.count_figures import manager_daily as manager_record
from services.classifier.write_outbox import OutboxRow
from services.runtime.postgres import Connection

NOTIFY_CHANNEL = "touchpoint_figures"
_COLUMNS = ("team", *COUNTS, *TIMES, "deals_won_amount")


@dataclass(frozen=True, slots=True)
class Figures:
    """The step, as the batch run sees it: marks taken as loaded, then `update` after the write-back."""

    zone: ZoneInfo
    topics: TopicNames
    callback_sla_minutes: int

    def marks(self, state: BatchState) -> Marks:
        return marks(state, self.zone)

    async def update(self, conn: Connection, before: Marks, state: BatchState, now: datetime) -> list[OutboxRow]:
        after = self.marks(state)
        keys = {k for k in touched(before, after) if k[0]}
        if moved := sorted(m for m, team in after.teams.items() if m in before.teams and before.teams[m] != team):
            keys |= await _regrouped(conn, moved, self.zone.key)
        rows: list[OutboxRow] = []
        changed = await recompute(conn, sorted(keys), self.zone.key) if keys else []
        for row in changed:
            key = f"{row['manager_id']}|{row['day'].isoformat()}"
            record = manager_record(row, now)
            rows.append((self.topics(REPORTS_MANAGER_DAILY), key, record.model_dump_json(by_alias=True), None))
            old = row["old"]
            if callback_changed(old, row):
                sla = callback_sla(row, self.callback_sla_minutes, now)
                rows.append((self.topics(REPORTS_CALLBACK_SLA), key, sla.model_dump_json(by_alias=True), None))
        teams = {(t, row["day"]) for row in changed for t in (row["team"], (row["old"] or {}).get("team")) if t}
        rows += await self._teams(conn, sorted(teams), now)
        # Last, after every advisory lock: the rows of `manager_current` are locked in manager order, so no batch
        # holds one while it waits for a lock another batch holds.
        current = current_changes(before, after)
        if managers := sorted({row["manager_id"] for row in changed} | current.keys()):
            kept = sorted(current)
            await conn.execute(
                _CURRENT_AND_NOTIFY, kept, *([current[m][n] for m in kept] for n in range(3)), NOTIFY_CHANNEL, managers
            )
        return rows

    async def _teams(self, conn: Connection, teams: Sequence[tuple[str, date]], now: datetime) -> list[OutboxRow]:
        if not teams:
            return []
        await _lock(conn, "team", [t for t, _ in teams], [d for _, d in teams])
        records = [
            team_record(row["team"], dict(row), now)
            for row in await conn.fetch(_TEAM_SUMS, [t for t, _ in teams], [d for _, d in teams])
        ]
        # Only the team-days whose figures changed get a new version and a record.
        changed = await conn.fetch(
            """INSERT INTO team_daily (team, day, digest) SELECT * FROM unnest($1::text[], $2::date[], $3::text[])
               ON CONFLICT (team, day) DO UPDATE SET digest = excluded.digest, version = team_daily.version + 1,
                   updated_at = now()
               WHERE team_daily.digest <> excluded.digest
               RETURNING team, day, version""",
            [r.team for r in records],
            [r.day for r in records],
            [team_digest(r) for r in records],
        )
        versions = {(r["team"], r["day"]): r["version"] for r in changed}
        topic = self.topics(REPORTS_TEAM_DAILY)
        return [
            (topic, f"{r.team}|{r.day.isoformat()}",
             with_version(r, versions[(r.team, r.day)]).model_dump_json(by_alias=True), None)
            for r in records
            if (r.team, r.day) in versions
        ]  # fmt: skip


async def recount_current(conn: Connection, managers: Sequence[str] | None = None) -> None:
    """Counts the current state of `managers` (None: all) from the raw tables into `manager_current`, as migration
    0014 did: for rows written without the classifier (test worlds, the benchmark's fill)."""
    await conn.execute(
        f"""INSERT INTO manager_current AS c (manager_id, tasks_open, tasks_due, backlog)
            SELECT m.id,
                   (SELECT count(*) FROM tasks t WHERE t.status = 'open' AND t.assignee_id = m.id),
                   (SELECT count(due_at) FROM tasks t WHERE t.status = 'open' AND t.assignee_id = m.id),
                   (SELECT count(*) FROM interactions i WHERE i.manager_id = m.id AND {awaiting_sql("i")})
            FROM (SELECT DISTINCT id FROM (
                      SELECT assignee_id FROM tasks WHERE status = 'open' AND assignee_id IS NOT NULL
                      UNION SELECT i.manager_id FROM interactions i
                            WHERE i.manager_id IS NOT NULL AND {awaiting_sql("i")}
                      UNION SELECT manager_id FROM manager_current) AS u(id)
                  WHERE $1::text[] IS NULL OR id = ANY($1)) AS m
            ORDER BY m.id
            ON CONFLICT (manager_id) DO UPDATE SET tasks_open = excluded.tasks_open, tasks_due = excluded.tasks_due,
                backlog = excluded.backlog""",  # noqa: S608 - fixed condition
        None if managers is None else list(managers),
    )


_CURRENT_AND_NOTIFY = """
    WITH kept AS (
        INSERT INTO manager_current AS c (manager_id, tasks_open, tasks_due, backlog)
        SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::int[]) ORDER BY 1
        ON CONFLICT (manager_id) DO UPDATE SET tasks_open = c.tasks_open + excluded.tasks_open,
            tasks_due = c.tasks_due + excluded.tasks_due, backlog = c.backlog + excluded.backlog)
    SELECT count(pg_notify($5, m)) FROM unnest($6::text[]) AS m"""
"""The batch's changes to the current state (one statement with the notifications, which go out at commit)."""
_TEAM_SUMS = f"""
    SELECT k.team, k.day, {summed_sql("d")}
    FROM unnest($1::text[], $2::date[]) AS k(team, day)
    LEFT JOIN manager_daily d ON d.team = k.team AND d.day = k.day
    GROUP BY k.team, k.day ORDER BY k.team, k.day"""  # noqa: S608 - fixed columns


async def _regrouped(conn: Connection, managers: Sequence[str], tz: str) -> set[Key]:
    """The stored days of moved managers whose team is no longer the one they were in that day: only those of a
    move made before days already computed (a backlog applied late); a move made now keeps every past day."""
    team = TEAM_ON_DAY.format(manager="d.manager_id", t1="((d.day + 1)::timestamp AT TIME ZONE $2)")
    rows = await conn.fetch(
        f"""SELECT d.manager_id, d.day FROM manager_daily d
            WHERE d.manager_id = ANY($1::text[]) AND d.team IS DISTINCT FROM {team}""",  # noqa: S608 - fixed SQL
        list(managers),
        tz,
    )
    return {(r["manager_id"], r["day"]) for r in rows}


async def _lock(conn: Connection, kind: str, names: Sequence[str], days: Sequence[date]) -> None:
    """Transaction-scoped locks on the keys, in key order: a worker recomputes a key only after every other batch
    that recomputed it has committed, so the last to commit saw every change (and no two lock in opposite order)."""
    await conn.execute(
        """SELECT count(pg_advisory_xact_lock(hashtextextended($1 || '|' || n || '|' || d::text, 0)))
           FROM (SELECT n, d FROM unnest($2::text[], $3::date[]) AS k(n, d) ORDER BY n, d) AS ordered""",
        kind,
        list(names),
        list(days),
    )


async def recompute(conn: Connection, keys: Sequence[Key], tz: str) -> list[dict[str, Any]]:
    """Locks the keys, recomputes their rows, and returns the rows that changed (each with `old`: the row before,
    or None when it is new). A key with nothing to count and no row stays absent."""
    names, days = [m for m, _ in keys], [d for _, d in keys]
    await _lock(conn, "manager", names, days)
    out = []
    for row in await conn.fetch(_recompute_sql(), names, days, tz):
        new = dict(row)
        old = new.pop("old")
        new["old"] = None if old is None else dict(zip(("team", *COUNTS, *TIMES), old, strict=False))
        out.append(new)
    return out


TEAM_ON_DAY = """(coalesce(
        (SELECT a.after -> 'team' FROM audit_log a WHERE a.entity = 'manager' AND a.entity_id = {manager}
         AND a.acted_at < {t1} ORDER BY a.acted_at DESC, a.id DESC LIMIT 1),
        (SELECT a.after -> 'team' FROM audit_log a WHERE a.entity = 'manager' AND a.entity_id = {manager}
         ORDER BY a.acted_at, a.id LIMIT 1),
        (SELECT to_jsonb(m.team) FROM managers m WHERE m.id = {manager})) #>> '{{}}')"""
"""The team a manager was in on a day (ending at `t1`): the one of the last change to the manager (audit_log, a
JSON null when teamless) before the day ended; before the first change, the team first recorded; with no change on
record, their team now. So a move counts from the day it was made, and a day computed again keeps its team."""


@functools.cache
def _recompute_sql() -> str:
    cols = ", ".join(_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS)
    stored = ", ".join(f"manager_daily.{c}" for c in _COLUMNS)
    distinct = f"({stored}) IS DISTINCT FROM ({', '.join(f'excluded.{c}' for c in _COLUMNS)})"
    nonzero = " + ".join(COUNTS)
    return f"""
WITH k AS (
    SELECT DISTINCT m AS manager_id, d AS day, (d::timestamp AT TIME ZONE $3) AS t0,
           ((d + 1)::timestamp AT TIME ZONE $3) AS t1
    FROM unnest($1::text[], $2::date[]) AS u(m, d)),
fig AS (
    SELECT k.manager_id, k.day, {TEAM_ON_DAY.format(manager="k.manager_id", t1="k.t1")} AS team,
           {", ".join(_COLUMNS[1:])}
    FROM k
    {day_figures_sql()}),
old AS (
    SELECT d.manager_id, d.day, ROW({", ".join(f"d.{c}" for c in ("team", *COUNTS, *TIMES))}) AS old
    FROM manager_daily d JOIN k USING (manager_id, day)),
up AS (
    INSERT INTO manager_daily (manager_id, day, {cols})
    SELECT f.manager_id, f.day, {", ".join(f"f.{c}" for c in _COLUMNS)} FROM fig f
    WHERE {nonzero} > 0 OR EXISTS (SELECT 1 FROM old o WHERE o.manager_id = f.manager_id AND o.day = f.day)
    ON CONFLICT (manager_id, day) DO UPDATE SET {updates}, version = manager_daily.version + 1, updated_at = now()
    WHERE {distinct}
    RETURNING manager_id, day, version, {cols})
SELECT up.*, old.old FROM up LEFT JOIN old USING (manager_id, day) ORDER BY up.manager_id, up.day"""  # noqa: S608 - fixed columns
