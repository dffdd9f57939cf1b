"""Contacts: a client's page, the operators' desk (search by name, by a number in any format, by email), and the
changes people make to clients: meetings with the minimum data set, personal data, merges, consent."""

from __future__ import annotations

import re
import uuid
from typing import Any

import phonenumbers
from pydantic import ValidationError

from schemas.actions import EditContact, MeetingData, MergeContacts, RecordConsent, RecordMeeting
from services.reporting.confirm_outcomes import path_uuid, shown, stamp
from services.reporting.problems import FieldError, invalid, not_found
from services.reporting.queries import HIDDEN, get_contact, search_contacts
from services.reporting.views import Ctx, Result, field_errors

# The minimum data set of a meeting, in the order a person fills it in, with the words the page uses.
MEETING_FIELDS = {
    "date": "date",
    "last_name": "client's last name",
    "first_name": "client's first name",
    "contact_details": "contact details (phone or email)",
    "topic": "topic",
    "result": "result",
}
_PHONE_LIKE = re.compile(r"^[\d\s()+\-./]{5,}$")


def normalize_phone(raw: str, region: str) -> str | None:
    """E.164, or None when `raw` is not a possible number (written in any format; `region` when it has no +)."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def missing_meeting_fields(data: dict[str, Any]) -> list[FieldError]:
    """Every field of the minimum data set that is absent or blank, named, before anything is validated further."""
    errors = []
    for key, label in MEETING_FIELDS.items():
        given = _text(data, "phone") or _text(data, "email") if key == "contact_details" else _text(data, key)
        if not given:
            errors.append(FieldError(key, f"the {label} is required"))
    return errors


async def _contact_within_reach(ctx: Ctx, name: str = "id", *, live: bool = True) -> dict[str, Any]:
    """`live`: a merged duplicate is refused (422 naming the contact it lives on as), for changes made to it."""
    cid = path_uuid(ctx, name, "contact")
    contact = await get_contact(ctx.deps.pool, await ctx.managers(), cid)
    if contact is None:
        raise not_found(f"contact {cid}")
    if live and contact["merged_into"] is not None:
        raise invalid([FieldError("contact_id", f"merged into contact {contact['merged_into']}: change that one")])
    return contact


def _masked_consents(consents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """How consent was given is in the operator's words (it may name the client): personal data."""
    return [{**c, "source": HIDDEN} for c in consents]


async def contact(ctx: Ctx) -> Result:
    """A merged duplicate answers with `merged_into` only; its page links to the contact it lives on as."""
    found = await _contact_within_reach(ctx, live=False)
    if found["merged_into"] is not None:
        return Result({"contact": shown(ctx, found), "can_edit": False, "can_meet": False})
    if not ctx.sees_personal_data:
        found = {**shown(ctx, found), "addresses": [], "consents": _masked_consents(found["consents"])}
    return Result(
        {"contact": found, "can_edit": ctx.can("change", "contact"), "can_meet": ctx.can("change", "meeting")}
    )


async def meeting_form(ctx: Ctx) -> Result:
    found = await _contact_within_reach(ctx)
    phones = [a["address"] for a in found["addresses"] if a["kind"] == "phone"]
    emails = [a["address"] for a in found["addresses"] if a["kind"] == "email"]
    prefill = {
        "last_name": found["last_name"] or "",
        "first_name": found["first_name"] or "",
        "phone": phones[0] if phones else "",
        "email": emails[0] if emails else "",
        "date": ctx.now.date().isoformat(),
        "interaction_id": ctx.request.query.get("interaction_id", ""),
    }
    return Result({"form": prefill, "errors": [], "contact": found})


async def record_meeting(ctx: Ctx) -> Result:
    found = await _contact_within_reach(ctx)
    data = await ctx.input()
    missing = missing_meeting_fields(data)
    if missing:
        raise invalid(missing, title="Meeting data incomplete")
    phone = _text(data, "phone") or None
    if phone is not None:
        e164 = normalize_phone(phone, ctx.deps.default_region)
        if e164 is None:
            raise invalid([FieldError("phone", "not a phone number")], title="Meeting data incomplete")
        phone = e164
    try:
        meeting = MeetingData.model_validate(
            {
                "date": _text(data, "date"),
                "last_name": _text(data, "last_name"),
                "first_name": _text(data, "first_name"),
                "phone": phone,
                "email": _text(data, "email").lower() or None,
                "topic": _text(data, "topic"),
                "result": _text(data, "result"),
            }
        )
        action = RecordMeeting.model_validate(
            stamp(ctx)
            | {
                "meeting_id": uuid.uuid4(),
                "contact_id": found["id"],
                "interaction_id": _text(data, "interaction_id") or None,
                "meeting": meeting,
            }
        )
    except ValidationError as exc:
        raise invalid(field_errors(exc), title="Meeting data incomplete") from exc
    await ctx.send(action)
    body = {"meeting_id": str(action.meeting_id), "event_id": action.event_id, "status": "accepted"}
    return Result(body, 202, redirect=f"/contacts/{found['id']}?sent=meeting")


def classify_query(q: str, region: str) -> tuple[str | None, str | None]:
    """(address, name): an email address, a phone number in any format (as E.164), or a part of a name."""
    if "@" in q:
        return q.lower(), None
    if _PHONE_LIKE.match(q):
        e164 = normalize_phone(q, region)
        if e164 is not None:
            return e164, None
    return None, q


async def desk(ctx: Ctx) -> Result:
    q = ctx.request.query.get("q", "").strip()[:200]
    results: list[dict[str, Any]] = []
    searched: str | None = None
    if q:
        address, name = classify_query(q, ctx.deps.default_region)
        searched = address or name
        results = await search_contacts(ctx.deps.pool, await ctx.managers(), address=address, name=name)
    return Result(
        {
            "q": q,
            "searched_for": searched if ctx.sees_personal_data else None,
            "results": [
                shown(ctx, r) if ctx.sees_personal_data else {**shown(ctx, r), "addresses": []} for r in results
            ],
            "can_edit": ctx.can("change", "contact"),
        }
    )


def _addresses(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key, [])
    items = [value] if isinstance(value, str) else list(value or [])
    return [str(v).strip() for v in items if str(v).strip()]


async def edit_contact(ctx: Ctx) -> Result:
    found = await _contact_within_reach(ctx)
    data = await ctx.input()
    region = ctx.deps.default_region
    errors: list[FieldError] = []
    changes: dict[str, Any] = {}
    for key in ("first_name", "last_name"):
        value = _text(data, key)
        if value and value != (found[key] or ""):
            changes[key] = value
    for key in ("add_phones", "remove_phones"):
        numbers = []
        for raw in _addresses(data, key):
            e164 = normalize_phone(raw, region)
            if e164 is None:
                errors.append(FieldError(key, f"{raw!r} is not a phone number"))
            else:
                numbers.append(e164)
        if numbers:
            changes[key] = numbers
    for key in ("add_emails", "remove_emails"):
        if emails := [e.lower() for e in _addresses(data, key)]:
            changes[key] = emails
    if errors:
        raise invalid(errors)
    if not changes:
        raise invalid([FieldError("body", "nothing to change: every given value is already the contact's")])
    return await _change_contact(ctx, EditContact, found["id"], changes, "edit")


async def merge_contacts(ctx: Ctx) -> Result:
    found = await _contact_within_reach(ctx)
    data = await ctx.input()
    try:
        duplicate = uuid.UUID(_text(data, "duplicate_id"))
    except ValueError:
        raise invalid([FieldError("duplicate_id", "the id of the contact to merge into this one")]) from None
    other = await get_contact(ctx.deps.pool, await ctx.managers(), duplicate)
    if other is None:
        raise not_found(f"contact {duplicate}")
    if other["merged_into"] is not None:
        raise invalid([FieldError("duplicate_id", f"already merged into contact {other['merged_into']}")])
    return await _change_contact(ctx, MergeContacts, found["id"], {"duplicate_id": duplicate}, "merge")


async def record_consent(ctx: Ctx) -> Result:
    found = await _contact_within_reach(ctx)
    data = await ctx.input()
    granted = data.get("granted")
    if isinstance(granted, str):
        granted = {"yes": True, "true": True, "no": False, "false": False}.get(granted.lower(), granted)
    fields = {"channel": data.get("channel"), "granted": granted, "source": data.get("source")}
    return await _change_contact(ctx, RecordConsent, found["id"], fields, "consent")


async def _change_contact(
    ctx: Ctx,
    model: type[EditContact | MergeContacts | RecordConsent],
    contact_id: str,
    fields: dict[str, Any],
    what: str,
) -> Result:
    """Validates the operator's change as its action (422 naming the fields), produces it, answers 202."""
    try:
        action = model.model_validate(stamp(ctx) | {"contact_id": contact_id} | fields)
    except ValidationError as exc:
        raise invalid(field_errors(exc)) from exc
    await ctx.send(action)
    body = {"event_id": action.event_id, "status": "accepted"}
    return Result(body, 202, redirect=f"/contacts/{contact_id}?sent={what}")
