"""The manager's queue: what awaits confirmation (with the suggested outcome and why), open tasks, the plan;
and the one-click confirmation, alone or for a selection, produced as `set_outcome` actions."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Annotated, Any, get_args

import orjson
from aiohttp import web
from aiohttp.client_exceptions import ClientConnectionResetError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.actions import Outcome, SetOutcome
from services.reporting.problems import FieldError, Problem, invalid, not_found
from services.reporting.queries import (
    InteractionFilter,
    awaiting_confirmation,
    get_interaction,
    list_interactions,
    mask,
    open_tasks,
    plan_progress,
    queue_state,
)
from services.reporting.report_managers import parse_period
from services.reporting.views import Ctx, Result, field_errors

OUTCOMES: tuple[str, ...] = get_args(Outcome)
OUTCOME_LABELS = {
    "connected": "Connected",
    "no_answer": "No answer",
    "busy": "Busy",
    "left_voicemail": "Left voicemail",
    "wrong_number": "Wrong number",
    "call_back_later": "Call back",
    "taken_into_work": "Taken into work",
    "done": "Done",
}


class OutcomeBody(BaseModel):
    """`{}` accepts the suggested outcome; `{"outcome": ...}` sets another from the fixed list."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    outcome: Outcome | None = None


class BulkBody(BaseModel):
    """A selection confirmed at once: each with its suggestion, or all with one `outcome`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ids: Annotated[tuple[uuid.UUID, ...], Field(min_length=1, max_length=200)]
    outcome: Outcome | None = None


def event_id() -> str:
    return f"reporting:{uuid.uuid4()}"


def stamp(ctx: Ctx) -> dict[str, Any]:
    """What every action a person makes starts with: a new event id, who acted (the audit's actor), and when."""
    return {"event_id": event_id(), "actor_id": ctx.user.actor_id, "occurred_at": ctx.now}


def path_uuid(ctx: Ctx, name: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(ctx.request.match_info[name])
    except ValueError:
        raise not_found(what) from None


def shown(ctx: Ctx, item: dict[str, Any]) -> dict[str, Any]:
    return item if ctx.sees_personal_data else mask(item)


async def queue(ctx: Ctx) -> Result:
    managers = await ctx.managers()
    items = await awaiting_confirmation(ctx.deps.pool, managers, ctx.deps.settings.page_max)
    tasks = await open_tasks(ctx.deps.pool, managers, ctx.now) if ctx.can("read", "task") else []
    plans: list[dict[str, Any]] = []
    if ctx.user.manager_id is not None:
        today = ctx.now.astimezone(_zone(ctx.deps.timezone)).date()
        plans = await plan_progress(ctx.deps.pool, ctx.user.manager_id, today, ctx.deps.timezone)
    return Result(
        {
            "items": [shown(ctx, i) for i in items],
            "tasks": [shown(ctx, t) for t in tasks],
            "plans": plans,
            "outcomes": list(OUTCOMES),
            "labels": OUTCOME_LABELS,
            "can_confirm": ctx.can("change", "interaction"),
        }
    )


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


async def queue_events(ctx: Ctx) -> Result:
    """Server-sent events: `queue` with the queue's counts whenever they change (and once at the start), a comment
    line in between so a closed connection is noticed; the stream ends after `live_stream_s`."""
    managers = await ctx.managers()
    settings = ctx.deps.settings

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        last: dict[str, Any] | None = None
        ends = time.monotonic() + settings.live_stream_s
        try:
            while time.monotonic() < ends:
                state = await queue_state(ctx.deps.pool, managers)
                if state != last:
                    await response.write(b"event: queue\ndata: " + orjson.dumps(state) + b"\n\n")
                    last = state
                else:
                    await response.write(b": unchanged\n\n")
                await asyncio.sleep(settings.live_interval_s)
        except (ConnectionResetError, ClientConnectionResetError):
            pass  # the page went away
        return response

    return Result({}, stream=stream)


async def _confirm_one(ctx: Ctx, iid: uuid.UUID, outcome: str | None, managers: list[str] | None) -> dict[str, Any]:
    item = await get_interaction(ctx.deps.pool, managers, iid)
    if item is None:
        raise not_found(f"interaction {iid}")
    chosen = outcome or item["suggested_outcome"]
    if chosen is None:
        raise invalid([FieldError("outcome", "there is no suggestion for this interaction: name an outcome")])
    action = SetOutcome.model_validate(stamp(ctx) | {"interaction_id": iid, "outcome": chosen})
    await ctx.send(action)
    return {"interaction_id": str(iid), "outcome": chosen, "event_id": action.event_id, "status": "accepted"}


async def set_outcome(ctx: Ctx) -> Result:
    iid = path_uuid(ctx, "id", "interaction")
    try:
        body = OutcomeBody.model_validate(await ctx.input())
    except ValidationError as exc:
        raise invalid(field_errors(exc)) from exc
    sent = await _confirm_one(ctx, iid, body.outcome, await ctx.managers())
    return Result(sent, 202, redirect=f"/queue?sent={sent['outcome']}")


async def confirm_selection(ctx: Ctx) -> Result:
    data = await ctx.input()
    if isinstance(data.get("ids"), str):  # one box ticked on the page form
        data["ids"] = [data["ids"]]
    if not data.get("outcome"):
        data.pop("outcome", None)
    try:
        body = BulkBody.model_validate(data)
    except ValidationError as exc:
        raise invalid(field_errors(exc)) from exc
    managers = await ctx.managers()
    accepted: list[dict[str, Any]] = []
    refused: list[dict[str, str]] = []
    for iid in dict.fromkeys(body.ids):
        try:
            accepted.append(await _confirm_one(ctx, iid, body.outcome, managers))
        except Problem as problem:
            if problem.status == 503:
                raise
            refused.append({"interaction_id": str(iid), "reason": problem.detail})
    return Result({"accepted": accepted, "refused": refused}, 202, redirect=f"/queue?sent={len(accepted)}")


async def interactions(ctx: Ctx) -> Result:
    raw = ctx.request.query.get("limit", "50")
    maximum = ctx.deps.settings.page_max
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise Problem(
            400,
            "Invalid query parameter",
            f"limit must be an integer from 1 to {maximum}",
            [FieldError("limit", f"limit must be an integer from 1 to {maximum}")],
        )
    query = ctx.request.query
    only = InteractionFilter(
        counterpart=query.get("counterpart") if ctx.sees_personal_data else None,
        manager_id=query.get("manager_id"),
        days=parse_period(query["period"]) if "period" in query else None,
        timezone=ctx.deps.timezone,
    )
    try:
        page = await list_interactions(ctx.deps.pool, await ctx.managers(), int(raw), query.get("cursor"), only)
    except ValueError as exc:
        raise Problem(
            400, "Invalid query parameter", "cursor is not one this server issued", [FieldError("cursor", "unknown")]
        ) from exc
    return Result({"items": [shown(ctx, i) for i in page.items], "next_cursor": page.next_cursor})


async def interaction(ctx: Ctx) -> Result:
    iid = path_uuid(ctx, "id", "interaction")
    item = await get_interaction(ctx.deps.pool, await ctx.managers(), iid)
    if item is None:
        raise not_found(f"interaction {iid}")
    return Result(shown(ctx, item))
