"""A manager account deactivated stops the classifier giving that manager work: the account is locked and the
manager goes out as `upsert_manager` with `active: false` (the same action the hand-over ends with)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from schemas.actions import Action, UpsertManager
from services.reporting.accounts import deactivate_user

Send = Callable[[Action], Awaitable[None]]


async def manager_upsert(
    db: asyncpg.Pool | asyncpg.Connection, manager_id: str, stamp: dict[str, Any], *, on_duty: bool | None = None
) -> UpsertManager | None:
    """The manager as the classifier knows them, marked inactive; `on_duty` None keeps theirs (so a later
    reactivation knows it). None when the classifier has no such manager or already has them inactive."""
    row = await db.fetchrow("SELECT name, email, on_duty, team, active FROM managers WHERE id = $1", manager_id)
    if row is None or not row["active"]:
        return None
    extensions = [
        r["extension"]
        for r in await db.fetch(
            "SELECT extension FROM manager_extensions WHERE manager_id = $1 ORDER BY extension", manager_id
        )
    ]
    return UpsertManager.model_validate(
        stamp
        | {
            "manager_id": manager_id,
            "name": row["name"],
            "email": row["email"],
            "extensions": extensions,
            "on_duty": row["on_duty"] if on_duty is None else on_duty,
            "active": False,
            "team": row["team"],
        }
    )


async def deactivate(pool: asyncpg.Pool, email: str, send: Send, stamp: dict[str, Any]) -> bool:
    """False if there is no such active account. The manager's action goes out first: when Kafka does not take
    it, `send` raises and the account stays as it was, so the command or form can simply be tried again."""
    manager_id = await pool.fetchval("SELECT manager_id FROM users WHERE email = $1 AND active", email.strip().lower())
    if manager_id is not None and (action := await manager_upsert(pool, manager_id, stamp)) is not None:
        await send(action)
    return await deactivate_user(pool, email)
