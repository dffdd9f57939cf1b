"""Analyzes the tables a batch reads by key while they are young, so that plans made for an empty table do not
outlive it: a fresh install taking traffic, or a backlog replayed into a new database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import asyncpg
import structlog

log = structlog.get_logger()

# Read by key in every batch (load_state.py, record_events.py). A statement's plan is cached per connection;
# PostgreSQL plans it again only when the table's statistics change, which autovacuum does at most once a
# minute (autovacuum_naptime) and, after the first time, once a tenth of the table changed. Planned while the
# table was empty, `id = ANY($1)` stays a sequential scan: measured at 4,000 interactions, 1-2.4 ms per
# statement and growing with the table, where the index takes a fraction of a millisecond.
TABLES: tuple[str, ...] = (
    "interactions",
    "interaction_events",
    "tasks",
    "contacts",
    "contact_addresses",
    "number_stats",
)


@dataclass(frozen=True, slots=True)
class RefreshLimits:
    """A table is analyzed when `min_changes` rows changed since its statistics were taken and it grew by `growth`
    times the rows they counted: about ten times on the way to a million rows with the defaults, and never again once
    the table is settled (autovacuum analyzes it after a tenth changed, long before it doubles)."""

    every_s: float = 5.0
    min_changes: int = 1000
    growth: float = 1.0


@dataclass(frozen=True, slots=True)
class TableStats:
    name: str
    live: int  # rows now
    changed: int  # rows inserted, updated or deleted since the last ANALYZE (all of them if never analyzed)
    counted: int  # rows the statistics counted (0 if never analyzed)


def outgrown(stats: Iterable[TableStats], limits: RefreshLimits) -> list[str]:
    """The tables whose statistics no longer describe them, in a fixed order."""
    stale = {s.name for s in stats if s.changed >= limits.min_changes and s.live >= (1 + limits.growth) * s.counted}
    return [name for name in TABLES if name in stale]


class StatisticsRefresh:
    def __init__(self, pool: asyncpg.Pool, limits: RefreshLimits, tables: Sequence[str] = TABLES) -> None:
        self._pool = pool
        self._limits = limits
        self._tables = list(tables)
        self.analyzed = 0  # ANALYZE statements run since start

    async def refresh_once(self) -> list[str]:
        """Analyzes the outgrown tables; returns their names."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT s.relname, s.n_live_tup, s.n_mod_since_analyze, greatest(c.reltuples, 0)::bigint AS counted
                   FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
                   WHERE s.schemaname = current_schema() AND s.relname = ANY($1::text[])""",
                self._tables,
            )
            stale = outgrown(
                (TableStats(r["relname"], r["n_live_tup"], r["n_mod_since_analyze"], r["counted"]) for r in rows),
                self._limits,
            )
            if stale:
                # Names from TABLES only; ANALYZE takes a lock that lets reads and writes go on.
                await conn.execute(f"ANALYZE {', '.join(stale)}")
                self.analyzed += 1
                log.info("classifier.statistics_refreshed", tables=stale)
        return stale

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: a failed round is logged and tried again on the next (plans are only slower meanwhile)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._limits.every_s)
            if stop.is_set():
                return
            try:
                await self.refresh_once()
            except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
                log.warning("classifier.statistics_refresh_failed", error=repr(exc))
