"""The admin's side: accounts (add, deactivate) and the corporate base: a departing manager's contacts and open
tasks handed to one manager or spread over a team, after a preview of what moves."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import asyncpg

from schemas.actions import ReassignContact, ReassignTask
from services.reporting.accounts import AccountError, add_user, deactivate_user, list_users
from services.reporting.confirm_outcomes import stamp
from services.reporting.permissions import ROLES
from services.reporting.plan_handover import Handover, plan_handover
from services.reporting.problems import FieldError, invalid, not_found
from services.reporting.queries import jsonable, manager_base, managers_list
from services.reporting.retire_managers import deactivate, manager_upsert
from services.reporting.views import Ctx, Result


async def users(ctx: Ctx) -> Result:
    rows = [jsonable(r) for r in await list_users(ctx.deps.pool)]
    return Result({"users": rows, "roles": list(ROLES), "managers": await managers_list(ctx.deps.pool)})


def _field(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value.strip() or None if isinstance(value, str) else None


async def add_account(ctx: Ctx) -> Result:
    data = await ctx.input()
    missing = [FieldError(k, "required") for k in ("email", "role", "password") if not _field(data, k)]
    if missing:
        raise invalid(missing)
    try:
        added = await add_user(
            ctx.deps.pool,
            _field(data, "email") or "",
            _field(data, "role") or "",
            str(data["password"]),
            manager_id=_field(data, "manager_id"),
            team=_field(data, "team"),
            name=_field(data, "name"),
        )
    except AccountError as exc:
        raise invalid([FieldError("body", str(exc))]) from exc
    body = {"id": str(added.user_id), "email": added.email, "role": added.role}
    return Result(body, 201, redirect="/admin/users?sent=added")


async def deactivate_account(ctx: Ctx) -> Result:
    """Locks the account; a manager's also stops the classifier giving them work (upsert_manager active=false)."""
    try:
        uid = uuid.UUID(ctx.request.match_info["id"])
    except ValueError:
        raise not_found("account") from None
    email = await ctx.deps.pool.fetchval("SELECT email FROM users WHERE id = $1", uid)
    if email is None or not await deactivate(ctx.deps.pool, email, ctx.send, stamp(ctx)):
        raise not_found("active account")
    return Result({"id": str(uid), "active": False}, 200, redirect="/admin/users?sent=deactivated")


async def _targets(pool: asyncpg.Pool, leaving: str, data: dict[str, Any]) -> list[str]:
    """Active managers to receive the base: the one named (`to`), or a team's (`team`), never the one leaving.
    A manager whose account was deactivated cannot be given work."""
    to, team = _field(data, "to"), _field(data, "team")
    if (to is None) == (team is None):
        raise invalid([FieldError("to", "name one manager (to) or one team (team)")])
    rows = await pool.fetch(
        """SELECT m.id FROM managers m
           WHERE m.active AND m.id <> $1
             AND NOT EXISTS (SELECT 1 FROM users u WHERE u.manager_id = m.id AND NOT u.active)
             AND (($2::text IS NOT NULL AND m.id = $2) OR ($3::text IS NOT NULL AND (m.team = $3 OR EXISTS (
                  SELECT 1 FROM users u WHERE u.manager_id = m.id AND u.active AND u.team = $3))))
           ORDER BY m.id""",
        leaving,
        to,
        team,
    )
    if not rows:
        raise invalid([FieldError("to" if to else "team", "no active manager to hand over to")])
    return [r["id"] for r in rows]


async def _plan(ctx: Ctx, data: dict[str, Any]) -> tuple[str, Handover, dict[str, Any]]:
    leaving = _field(data, "manager_id")
    if leaving is None:
        raise invalid([FieldError("manager_id", "the departing manager")])
    manager = await ctx.deps.pool.fetchrow("SELECT id, name FROM managers WHERE id = $1", leaving)
    if manager is None:
        raise not_found(f"manager {leaving}")
    targets = await _targets(ctx.deps.pool, leaving, data)
    contacts, tasks = await manager_base(ctx.deps.pool, leaving)
    load = {
        r["owner_id"]: r["n"]
        for r in await ctx.deps.pool.fetch(
            "SELECT owner_id, count(*) AS n FROM contacts WHERE owner_id = ANY($1) GROUP BY owner_id", targets
        )
    }
    handover = plan_handover([c["id"] for c in contacts], [t["id"] for t in tasks], targets, load)
    preview = {
        "manager_id": leaving,
        "manager_name": manager["name"],
        "to": _field(data, "to"),
        "team": _field(data, "team"),
        "contacts": [{**c, "to": handover.contacts[c["id"]]} for c in contacts],
        "tasks": [{**t, "to": handover.tasks[t["id"]]} for t in tasks],
        "counts": handover.counts(),
    }
    return leaving, handover, preview


async def handover_preview(ctx: Ctx) -> Result:
    data = dict(ctx.request.query)
    managers = await managers_list(ctx.deps.pool)
    if not data.get("manager_id"):
        return Result({"managers": managers, "preview": None})
    _, _, preview = await _plan(ctx, data)
    return Result({"managers": managers, "preview": preview})


async def hand_over(ctx: Ctx) -> Result:
    """Produces one reassign_contact per contact (its open tasks follow it), one reassign_task per other open
    task, and deactivates the manager (upsert_manager active=false) and their account."""
    data = await ctx.input()
    leaving, handover, preview = await _plan(ctx, data)
    for cid, target in handover.contacts.items():
        await ctx.send(ReassignContact.model_validate(stamp(ctx) | {"contact_id": cid, "manager_id": target}))
    for tid, target in handover.tasks.items():
        await ctx.send(ReassignTask.model_validate(stamp(ctx) | {"task_id": tid, "manager_id": target}))
    if (leaves := await manager_upsert(ctx.deps.pool, leaving, stamp(ctx), on_duty=False)) is not None:
        await ctx.send(leaves)
    for email in await ctx.deps.pool.fetch("SELECT email FROM users WHERE manager_id = $1 AND active", leaving):
        await deactivate_user(ctx.deps.pool, email["email"])
    body = {"manager_id": leaving, "moved": preview["counts"], "status": "accepted"}
    return Result(body, 202, redirect=f"/admin/handover?sent={quote(leaving)}")
