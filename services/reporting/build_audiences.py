"""Campaign audiences: the contacts within reach that may be called or mailed (recorded consent on the channel and
a usable address), filtered by owner, team, status and last contact; a preview says how many are in and why the
others were left out, and the list downloads as CSV."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import asyncpg
import orjson
import phonenumbers
from aiohttp import web

from services.reporting.export_reports import csv_chunks
from services.reporting.problems import FieldError, Problem
from services.reporting.views import Ctx, Result

Channel = Literal["phone", "email"]
# Why a contact is left out, in the order they are checked (a contact counts once, under the first that applies).
REASONS: dict[str, str] = {
    "no_consent": "no consent recorded on this channel",
    "consent_withdrawn": "consent withdrawn",
    "no_address": "no address on this channel",
    "invalid_number": "number is not a valid E.164 number",
    "wrong_number": "number marked as a wrong number",
    "blocked_number": "number on the block list",
    "spam_number": "number marked as spam",
    "bounced_address": "email address bounced",
}
STATUSES = ("lead", "client")
PREVIEW_ROWS = 50


@dataclass(frozen=True, slots=True)
class AudienceFilter:
    channel: Channel
    owner: str | None = None
    team: str | None = None
    status: str | None = None  # lead | client
    contacted_from: date | None = None
    contacted_until: date | None = None  # included


def address_problem(address: dict[str, Any], channel: Channel) -> str | None:
    """Why this address must not be used for a campaign (None: it may)."""
    if channel == "phone":
        try:
            number = phonenumbers.parse(address["address"], None)
        except phonenumbers.NumberParseException:
            return "invalid_number"
        if (
            not phonenumbers.is_valid_number(number)
            or phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) != address["address"]
        ):
            return "invalid_number"
        if address.get("wrong"):
            return "wrong_number"
        if address.get("blocked"):
            return "blocked_number"
        if address.get("spam"):
            return "spam_number"
        return None
    if address.get("undeliverable") or address.get("bounced"):
        return "bounced_address"
    return None


def judge(contact: dict[str, Any], channel: Channel) -> tuple[str | None, list[str]]:
    """(reason the contact is left out or None, its usable addresses). Consent first: without it no address
    matters; then the addresses, the contact's reason being the first found among them in REASONS' order."""
    if contact.get("consent") is None:
        return "no_consent", []
    if contact["consent"] is False:
        return "consent_withdrawn", []
    addresses = [a for a in contact.get("addresses") or [] if a["kind"] == channel]
    if not addresses:
        return "no_address", []
    usable, problems = [], []
    for address in addresses:
        problem = address_problem(address, channel)
        if problem is None:
            usable.append(address["address"])
        else:
            problems.append(problem)
    if usable:
        return None, sorted(usable)
    order = list(REASONS)
    return min(problems, key=order.index), []


_CANDIDATES = """
SELECT c.id, c.owner_id, c.first_name, c.last_name, c.is_lead, m.team,
       (SELECT max(i.started_at) FROM interactions i WHERE i.contact_id = c.id) AS last_contact_at,
       (SELECT cc.granted FROM contact_consents cc WHERE cc.contact_id = c.id AND cc.channel = $2) AS consent,
       (SELECT coalesce(json_agg(json_build_object(
                  'address', a.address, 'kind', a.kind, 'undeliverable', a.undeliverable,
                  'blocked', coalesce(ns.list = 'block', false),
                  'wrong', EXISTS (SELECT 1 FROM number_marks nm WHERE nm.address = a.address AND nm.verdict = 'wrong')
                        OR EXISTS (SELECT 1 FROM interactions w WHERE w.counterpart = a.address
                                   AND (w.outcome = 'wrong_number'
                                        OR (w.flag = 'confirmed' AND w.flag_kind = 'wrong_number'))),
                  'spam', EXISTS (SELECT 1 FROM number_marks nm WHERE nm.address = a.address AND nm.verdict = 'spam'),
                  'bounced', EXISTS (SELECT 1 FROM interactions b WHERE b.kind = 'email' AND b.auto_status = 'bounce'
                                     AND b.counterpart = a.address))
               ORDER BY a.address), '[]')
        FROM contact_addresses a LEFT JOIN number_stats ns ON ns.address = a.address
        WHERE a.contact_id = c.id AND a.kind = $2) AS addresses
FROM contacts c LEFT JOIN managers m ON m.id = c.owner_id
WHERE c.merged_into IS NULL AND ($1::text[] IS NULL OR c.owner_id = ANY($1))
  AND ($3::text IS NULL OR c.owner_id = $3) AND ($4::text IS NULL OR m.team = $4)
  AND ($5::boolean IS NULL OR c.is_lead = $5)
  AND ($6::timestamptz IS NULL OR (SELECT max(i.started_at) FROM interactions i WHERE i.contact_id = c.id) >= $6)
  AND ($7::timestamptz IS NULL OR (SELECT max(i.started_at) FROM interactions i WHERE i.contact_id = c.id) < $7)
ORDER BY c.last_name NULLS LAST, c.first_name NULLS LAST, c.id
"""


def _args(managers: list[str] | None, only: AudienceFilter) -> tuple[Any, ...]:
    return (
        managers,
        "phone" if only.channel == "phone" else "email",
        only.owner,
        only.team,
        None if only.status is None else only.status == "lead",
        only.contacted_from,
        only.contacted_until + timedelta(days=1) if only.contacted_until else None,
    )


def _decoded(row: asyncpg.Record) -> dict[str, Any]:
    contact = dict(row)
    raw = contact["addresses"]
    contact["addresses"] = orjson.loads(raw) if isinstance(raw, str) else raw or []
    return contact


def audience_filter(ctx: Ctx) -> AudienceFilter:
    query = ctx.request.query
    errors: list[FieldError] = []
    channel = query.get("channel", "phone")
    if channel not in ("phone", "email"):
        errors.append(FieldError("channel", "phone or email"))
    status = query.get("status") or None
    if status is not None and status not in STATUSES:
        errors.append(FieldError("status", "lead or client"))
    days: dict[str, date | None] = {}
    for name in ("contacted_from", "contacted_until"):
        raw = query.get(name) or None
        try:
            days[name] = date.fromisoformat(raw) if raw else None
        except ValueError:
            errors.append(FieldError(name, "a date like 2026-11-30"))
    if errors:
        raise Problem(400, "Invalid query parameter", "; ".join(f"{e.field}: {e.message}" for e in errors), errors)
    return AudienceFilter(
        channel="email" if channel == "email" else "phone",
        owner=query.get("owner") or None,
        team=query.get("team") or None,
        status=status,
        contacted_from=days.get("contacted_from"),
        contacted_until=days.get("contacted_until"),
    )


def _row(contact: dict[str, Any], usable: list[str]) -> dict[str, Any]:
    last = contact.get("last_contact_at")
    return {
        "contact_id": str(contact["id"]),
        "first_name": contact["first_name"],
        "last_name": contact["last_name"],
        "owner_id": contact["owner_id"],
        "team": contact["team"],
        "status": "lead" if contact["is_lead"] else "client",
        "addresses": usable,
        "last_contact_at": last.isoformat() if last else None,
    }


async def audience(ctx: Ctx) -> Result:
    """The preview: how many are in, how many left out and why, the first PREVIEW_ROWS of the list."""
    only = audience_filter(ctx)
    managers = await ctx.managers()
    rows = await ctx.deps.pool.fetch(_CANDIDATES, *_args(managers, only))
    left_out: Counter[str] = Counter()
    included: list[dict[str, Any]] = []
    count = 0
    for raw in rows:
        contact = _decoded(raw)
        reason, usable = judge(contact, only.channel)
        if reason is not None:
            left_out[reason] += 1
            continue
        count += 1
        if len(included) < PREVIEW_ROWS:
            included.append(_row(contact, usable))
    owners = await ctx.deps.pool.fetch(
        "SELECT id, name, team FROM managers WHERE $1::text[] IS NULL OR id = ANY($1) ORDER BY name, id", managers
    )
    return Result(
        {
            "filter": {
                "channel": only.channel,
                "owner": only.owner,
                "team": only.team,
                "status": only.status,
                "contacted_from": only.contacted_from.isoformat() if only.contacted_from else None,
                "contacted_until": only.contacted_until.isoformat() if only.contacted_until else None,
            },
            "included": count,
            "left_out": sum(left_out.values()),
            "reasons": [{"reason": r, "text": REASONS[r], "count": left_out[r]} for r in REASONS if left_out.get(r)],
            "contacts": included,
            "owners": [dict(o) for o in owners],
            "download": ctx.request.query_string,
        }
    )


async def download_audience(ctx: Ctx) -> Result:
    """The whole list as CSV, read with a server-side cursor and streamed: one line per contact."""
    only = audience_filter(ctx)
    args = _args(await ctx.managers(), only)
    pool = ctx.deps.pool

    async def lines() -> AsyncIterator[list[Any]]:
        async with pool.acquire() as conn, conn.transaction():
            async for raw in conn.cursor(_CANDIDATES, *args, prefetch=500):
                contact = _decoded(raw)
                reason, usable = judge(contact, only.channel)
                if reason is None:
                    row = _row(contact, usable)
                    yield [
                        row["contact_id"],
                        row["first_name"],
                        row["last_name"],
                        " ".join(usable),
                        row["owner_id"],
                        row["team"],
                        row["status"],
                        row["last_contact_at"],
                    ]

    header = ["contact_id", "first_name", "last_name", only.channel, "owner_id", "team", "status", "last_contact_at"]

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="audience-{only.channel}.csv"',
                "Cache-Control": "no-store",
            }
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        batch: list[list[Any]] = []
        first = True
        async for line in lines():
            batch.append(line)
            if len(batch) >= 500:
                for chunk in csv_chunks(header if first else None, batch):
                    await response.write(chunk)
                first, batch = False, []
        for chunk in csv_chunks(header if first else None, batch):
            await response.write(chunk)
        await response.write_eof()
        return response

    return Result({}, stream=stream)
