"""A plan cached while a table was empty stays a sequential scan as the table grows, until its statistics change;
the classifier's statistics refresh analyzes the grown table, and the same statement then uses the index."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from services.classifier.refresh_statistics import RefreshLimits, StatisticsRefresh
from services.runtime.postgres import create_pool
from services.runtime.settings import DatabaseSettings

ROWS = 5_000


async def _plan(conn: asyncpg.Connection) -> str:
    rows = await conn.fetch(f"EXPLAIN EXECUTE by_id('{{{uuid.uuid4()}}}')")
    return "\n".join(r[0] for r in rows)


async def _fill(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "interactions",
            records=[(uuid.uuid4(), "call", "generic", f"stats-{i}", "inbound") for i in range(ROWS)],
            columns=["id", "kind", "source", "external_id", "direction"],
        )
    finally:
        await conn.close()  # a backend reports its table counters when it ends, at the latest


async def test_a_grown_table_is_analyzed_and_its_cached_plan_uses_the_index(database_url: str) -> None:
    pool = await create_pool(DatabaseSettings(DATABASE_URL=database_url))
    session = await asyncpg.connect(database_url)
    try:
        # The classifier's connections keep their statements prepared; this one is planned while the table is empty.
        await session.execute("SET plan_cache_mode = force_generic_plan")
        await session.execute("PREPARE by_id(uuid[]) AS SELECT * FROM interactions WHERE id = ANY($1)")
        assert "Seq Scan" in await _plan(session)
        await _fill(database_url)
        assert "Seq Scan" in await _plan(session), "the cached plan should still be the empty table's"

        refresh = StatisticsRefresh(pool, RefreshLimits(min_changes=1000, growth=1.0))
        analyzed: list[str] = []
        for _ in range(50):  # table counters reach pg_stat_user_tables within about a second
            analyzed = await refresh.refresh_once()
            if analyzed:
                break
            await asyncio.sleep(0.1)
        assert analyzed == ["interactions"]
        assert refresh.analyzed == 1

        plan = await _plan(session)
        assert "Seq Scan" not in plan
        assert "interactions_pkey" in plan
        assert await refresh.refresh_once() == []  # analyzed now: nothing outgrown until it doubles
    finally:
        await session.close()
        await pool.close()
