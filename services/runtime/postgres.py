"""PostgreSQL: the connection pool and the ordered, recorded, idempotent schema migrations.

Migrations are the SQL files in `services/runtime/migrations/`, applied in name order at start-up under an
advisory lock (so processes starting together don't race), each in its own transaction, and recorded with
a checksum: a changed file that was already applied stops start-up instead of silently diverging."""

from __future__ import annotations

import hashlib
from importlib import resources

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

from services.runtime.errors import DatabaseUnavailable, StartupRefused
from services.runtime.settings import DatabaseSettings

log = structlog.get_logger(__name__)

# What `pool.acquire()` hands out; functions that take a connection accept either kind.
Connection = asyncpg.Connection | PoolConnectionProxy

_MIGRATION_LOCK = 0x70C4_0001  # arbitrary constant shared by every Touchpoint process

# What a server that is down, starting, restarting or full answers: waiting can fix these. Anything else at
# start-up (wrong password, missing database, a failing migration) is a fault to report, not to wait out.
TRANSIENT_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
)


async def create_pool(settings: DatabaseSettings) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        command_timeout=settings.command_timeout_s,
    )
    assert pool is not None
    return pool


async def open_migrated_pool(settings: DatabaseSettings) -> asyncpg.Pool:
    """A pool on a database whose schema is up to date; closed again if migrating fails. A server that cannot be
    reached yet is `DatabaseUnavailable` (start-up waits); a changed migration is `MigrationMismatch`."""
    try:
        pool = await create_pool(settings)
    except TRANSIENT_ERRORS as exc:
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {exc!r}") from exc
    try:
        await migrate(pool)
    except TRANSIENT_ERRORS as exc:
        await pool.close()
        raise DatabaseUnavailable(f"PostgreSQL went away while migrating: {exc!r}") from exc
    except BaseException:
        await pool.close()
        raise
    return pool


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("services.runtime") / "migrations"
    return sorted((f.name, f.read_text()) for f in folder.iterdir() if f.name.endswith(".sql"))


class MigrationMismatch(StartupRefused):
    """An applied migration's file changed since; migrations are append-only."""


async def migrate(pool: asyncpg.Pool) -> list[str]:
    """Applies the migrations not yet applied; returns their names."""
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       name text PRIMARY KEY,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = {r["name"]: r["checksum"] for r in await conn.fetch("SELECT name, checksum FROM schema_migrations")}
            for name, sql in migration_files():
                checksum = hashlib.sha256(sql.encode()).hexdigest()
                if name in done:
                    if done[name] != checksum:
                        raise MigrationMismatch(
                            f"migration {name} changed after it was applied (migrations are append-only: restore"
                            " the file as released and put the change in a new migration)"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", name, checksum)
                applied_now.append(name)
                log.info("postgres.migration_applied", migration=name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied_now


async def database_reachable(pool: asyncpg.Pool, timeout_s: float = 2.0) -> bool:
    try:
        async with pool.acquire(timeout=timeout_s) as conn:
            await conn.fetchval("SELECT 1", timeout=timeout_s)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    return True
