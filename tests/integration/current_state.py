"""The current state per manager (open and overdue tasks, the confirmation backlog and its oldest) counted from the
raw tables with SQL of its own, to hold what the classifier keeps and figures.py answers to."""

from __future__ import annotations

from datetime import datetime

from services.runtime.postgres import Connection

_RAW = """
SELECT m, sum(tasks_open)::int AS tasks_open, sum(tasks_overdue)::int AS tasks_overdue, sum(backlog)::int AS backlog,
       min(oldest) AS oldest
FROM (SELECT assignee_id AS m, count(*) AS tasks_open, count(*) FILTER (WHERE due_at < $1) AS tasks_overdue,
             0 AS backlog, NULL::timestamptz AS oldest
      FROM tasks WHERE status = 'open' AND assignee_id IS NOT NULL GROUP BY 1
      UNION ALL
      SELECT manager_id, 0, 0, count(*), min(coalesce(ended_at, started_at)) FROM interactions
      WHERE manager_id IS NOT NULL AND outcome IS NULL AND NOT internal
        AND ((kind = 'call' AND phase = 'ended' AND auto_status IS NOT NULL)
             OR (kind = 'email' AND auto_status IS NOT NULL))
      GROUP BY 1) AS parts
GROUP BY m"""


async def raw_current(conn: Connection, now: datetime) -> dict[str, dict[str, int | float | None]]:
    """manager → tasks_open, tasks_overdue, backlog, backlog_oldest_s (as of `now`), for managers with any."""
    out: dict[str, dict[str, int | float | None]] = {}
    for r in await conn.fetch(_RAW, now):
        oldest = None if r["oldest"] is None else max(0.0, (now - r["oldest"]).total_seconds())
        out[r["m"]] = {"tasks_open": r["tasks_open"], "tasks_overdue": r["tasks_overdue"], "backlog": r["backlog"],
                       "backlog_oldest_s": oldest}  # fmt: skip
    return out
