"""Read queries over the domain tables. Reporting never writes them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

_COLUMNS = """id, kind, source, external_id, direction, counterpart, our_address, agent, manager_id, contact_id,
              phase, auto_status, outcome, started_at, answered_at, ended_at, duration_s, talk_s, recording_ref,
              version, updated_at"""


@dataclass(frozen=True, slots=True)
class InteractionPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _jsonable(row: asyncpg.Record) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            out[key] = value.isoformat()
        elif isinstance(value, uuid.UUID):
            out[key] = str(value)
        else:
            out[key] = value
    return out


def encode_cursor(updated_at: datetime, iid: uuid.UUID) -> str:
    return f"{updated_at.isoformat()}~{iid}"


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Raises ValueError for a cursor we did not make."""
    stamp, _, iid = cursor.partition("~")
    parsed = datetime.fromisoformat(stamp)
    if parsed.tzinfo is None:
        raise ValueError("cursor time has no offset")
    return parsed, uuid.UUID(iid)


async def list_interactions(
    pool: asyncpg.Pool, limit: int, cursor: str | None, counterpart: str | None
) -> InteractionPage:
    """Newest change first; `cursor` continues after the last item of the previous page."""
    after = decode_cursor(cursor) if cursor else None
    rows = await pool.fetch(
        f"""SELECT {_COLUMNS} FROM interactions
            WHERE phase IS NOT NULL
              AND ($1::timestamptz IS NULL OR (updated_at, id) < ($1::timestamptz, $2::uuid))
              AND ($3::text IS NULL OR counterpart = $3)
            ORDER BY updated_at DESC, id DESC LIMIT $4""",  # noqa: S608 - fixed column list
        after[0] if after else None,
        after[1] if after else None,
        counterpart,
        limit + 1,
    )
    items = [_jsonable(r) for r in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1]["updated_at"], rows[limit - 1]["id"]) if len(rows) > limit else None
    return InteractionPage(items, next_cursor)


async def get_interaction(pool: asyncpg.Pool, iid: uuid.UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM interactions WHERE id = $1", iid)  # noqa: S608
    return _jsonable(row) if row is not None else None
