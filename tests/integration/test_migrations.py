"""Migrations on a real PostgreSQL: ordered, recorded, idempotent, and refusing a changed file at once (start-up
waits for a database that is not up yet, never for a changed migration)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from deploy.local.procs import free_port
from services.runtime import postgres
from services.runtime.errors import DatabaseUnavailable
from services.runtime.lifecycle import retry_until_ready
from services.runtime.postgres import MigrationMismatch, create_pool, migrate, migration_files, open_migrated_pool
from services.runtime.settings import DatabaseSettings

pytestmark = pytest.mark.integration


async def test_migrations_are_recorded_and_idempotent_even_when_run_concurrently(database_url: str) -> None:
    pool = await create_pool(DatabaseSettings(DATABASE_URL=database_url))
    try:
        first, second = await asyncio.gather(migrate(pool), migrate(pool))
        assert (first, second) == ([], [])  # the fixture applied them all already
        names = [r["name"] for r in await pool.fetch("SELECT name FROM schema_migrations ORDER BY name")]
        assert names == [name for name, _ in migration_files()]
    finally:
        await pool.close()


async def test_a_changed_migration_stops_start_up(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    original = migration_files()
    changed = [(original[0][0], original[0][1] + "\n-- edited after release\n"), *original[1:]]
    monkeypatch.setattr(postgres, "migration_files", lambda: changed)
    pool = await create_pool(DatabaseSettings(DATABASE_URL=database_url))
    try:
        with pytest.raises(MigrationMismatch, match=original[0][0]):
            await migrate(pool)
    finally:
        await pool.close()


async def test_start_up_stops_on_a_changed_migration_instead_of_retrying_it(database_url: str) -> None:
    first = migration_files()[0][0]
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE schema_migrations SET checksum = 'released-before-an-edit' WHERE name = $1", first)
    finally:
        await conn.close()
    stop = asyncio.Event()
    settings = DatabaseSettings(DATABASE_URL=database_url)
    started = asyncio.get_running_loop().time()
    with pytest.raises(MigrationMismatch, match=f"migration {first} changed after it was applied"):
        # Bounded: before the fix this retried forever with a growing delay.
        await asyncio.wait_for(retry_until_ready(lambda: open_migrated_pool(settings), stop, "postgres"), 10)
    assert asyncio.get_running_loop().time() - started < 5  # the first attempt, not after back-offs


async def test_a_database_not_up_yet_is_waited_for() -> None:
    settings = DatabaseSettings(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/touchpoint")
    with pytest.raises(DatabaseUnavailable, match="cannot connect to PostgreSQL"):
        await open_migrated_pool(settings)
    stop = asyncio.Event()
    waiting = asyncio.create_task(retry_until_ready(lambda: open_migrated_pool(settings), stop, "postgres"))
    await asyncio.sleep(1.2)  # a few attempts
    assert not waiting.done()
    stop.set()
    assert await asyncio.wait_for(waiting, 5) is None


async def test_a_fresh_database_gets_every_table(postgres_server: str) -> None:
    conn = await asyncpg.connect(postgres_server)
    try:
        await conn.execute("DROP DATABASE IF EXISTS tp_fresh_check WITH (FORCE)")
        await conn.execute("CREATE DATABASE tp_fresh_check")
    finally:
        await conn.close()
    dsn = postgres_server.rsplit("/", 1)[0] + "/tp_fresh_check"
    pool = await create_pool(DatabaseSettings(DATABASE_URL=dsn))
    try:
        applied = await migrate(pool)
        assert applied == [name for name, _ in migration_files()]
        tables = {r["tablename"] for r in await pool.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
        assert {"consumer_offsets", "interactions", "interaction_events", "outbox", "schema_migrations"} <= tables
    finally:
        await pool.close()
