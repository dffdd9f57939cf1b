"""Deals from the pages: a manager takes a client into work (`open_deal`) and closes the deal won or lost
(`close_deal`, with an optional amount); both produced as actions, 202 once on `touchpoint.actions.v1`."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError

from schemas.actions import CloseDeal, OpenDeal
from services.reporting.confirm_outcomes import path_uuid, stamp
from services.reporting.problems import invalid, not_found
from services.reporting.queries import get_contact
from services.reporting.views import Ctx, Result, field_errors


async def open_deal(ctx: Ctx) -> Result:
    cid = path_uuid(ctx, "id", "contact")
    if await get_contact(ctx.deps.pool, await ctx.managers(), cid) is None:
        raise not_found(f"contact {cid}")
    data = await ctx.input()
    fields: dict[str, Any] = {"deal_id": data.get("deal_id") or str(uuid.uuid4()), "contact_id": str(cid)}
    if data.get("interaction_id"):
        fields["interaction_id"] = data["interaction_id"]
    try:
        action = OpenDeal.model_validate(stamp(ctx) | fields)
    except ValidationError as exc:
        raise invalid(field_errors(exc)) from exc
    await ctx.send(action)
    body = {"event_id": action.event_id, "deal_id": str(action.deal_id), "status": "accepted"}
    return Result(body, 202, redirect=f"/contacts/{cid}?sent=deal")


async def close_deal(ctx: Ctx) -> Result:
    deal_id = path_uuid(ctx, "id", "deal")
    managers = await ctx.managers()
    deal = await ctx.deps.pool.fetchrow(
        "SELECT contact_id FROM deals WHERE id = $1 AND ($2::text[] IS NULL OR manager_id = ANY($2))",
        deal_id,
        managers,
    )
    if deal is None:
        raise not_found(f"deal {deal_id}")
    data = await ctx.input()
    fields = {"deal_id": str(deal_id), "result": data.get("result"), "amount": data.get("amount") or None}
    try:
        action = CloseDeal.model_validate(stamp(ctx) | fields)
    except ValidationError as exc:
        raise invalid(field_errors(exc)) from exc
    await ctx.send(action)
    return Result(
        {"event_id": action.event_id, "deal_id": str(deal_id), "status": "accepted"},
        202,
        redirect=f"/contacts/{deal['contact_id']}?sent=deal",
    )
