"""Clients and the base: meetings refused with every missing field named, the operators' desk (search by name,
by a number in any format, by email; edits, merges, consent as actions), the admin's hand-over with its preview,
and the audit trail each role may read."""

from __future__ import annotations

import uuid

import pytest

from schemas.actions import (
    ACTION_ADAPTER,
    EditContact,
    MergeContacts,
    ReassignContact,
    RecordConsent,
    RecordMeeting,
    UpsertManager,
)
from schemas.topics import ACTIONS
from services.reporting.accounts import issue_api_token
from tests.integration.helpers import read_topic
from tests.integration.reporting_world import ACCOUNTS, Reporting, bearer, log_in, problem_of

pytestmark = pytest.mark.integration


async def as_role(reporting: Reporting, role: str) -> dict[str, str]:
    return bearer(await issue_api_token(reporting.pool, ACCOUNTS[role][0]))


async def test_a_meeting_names_every_missing_field_before_anything_is_produced(reporting: Reporting) -> None:
    path = f"/api/contacts/{reporting.office.ann_contact}/meetings"
    ann = await as_role(reporting, "manager")
    partial = {"date": "2026-11-30", "last_name": "Doe", "topic": "Pricing", "email": "  "}
    async with reporting.client.post(path, json=partial, headers=ann) as r:
        assert r.status == 422
        problem = await problem_of(r)
    assert [e["field"] for e in problem["errors"]] == ["first_name", "contact_details", "result"]
    assert await read_topic(reporting.kafka, reporting.kafka.topics(ACTIONS), timeout=2) == []

    complete = partial | {"first_name": "Jane", "phone": "(415) 555-0201", "result": "Wants a quote"}
    async with reporting.client.post(path, json=complete, headers=ann) as r:
        assert r.status == 202, await r.text()
    [record] = await read_topic(reporting.kafka, reporting.kafka.topics(ACTIONS), expect=1)
    action = ACTION_ADAPTER.validate_json(record.value)
    assert isinstance(action, RecordMeeting)
    assert action.meeting.phone == "+14155550201", "any format, stored in E.164"
    assert action.contact_id == reporting.office.ann_contact


async def test_the_meeting_page_names_the_missing_fields_and_keeps_what_was_typed(reporting: Reporting) -> None:
    csrf = await log_in(reporting.client, ACCOUNTS["manager"][0])
    form = {"csrf": csrf, "date": "2026-11-30", "last_name": "Doe", "first_name": "Jane", "topic": "Renewal"}
    response = await reporting.client.post(f"/contacts/{reporting.office.ann_contact}/meetings", data=form)
    assert response.status == 422
    page = await response.text()
    assert 'data-field="contact_details"' in page
    assert 'data-field="result"' in page
    assert 'value="Renewal"' in page
    assert 'data-field="topic"' not in page


async def test_another_managers_client_cannot_be_met_or_opened(reporting: Reporting) -> None:
    ann = await as_role(reporting, "manager")
    async with reporting.client.post(
        f"/api/contacts/{reporting.office.bob_contact}/meetings", json={}, headers=ann
    ) as r:
        assert r.status == 404


@pytest.mark.parametrize(
    ("q", "expect"),
    [("(415) 555-0201", ["Jane"]), ("+1 415 555 0202", ["Rick"]), ("JANE@client.test", ["Jane"]), ("doe", ["Jane"]),
     ("jane doe", ["Jane"]), ("nobody", [])],
)  # fmt: skip
async def test_the_desk_finds_clients_by_number_in_any_format_email_or_name(
    reporting: Reporting, q: str, expect: list[str]
) -> None:
    async with reporting.client.get(
        "/api/contacts", params={"q": q}, headers=await as_role(reporting, "operator")
    ) as r:
        found = await r.json()
    assert [c["first_name"] for c in found["results"]] == expect


async def test_a_manager_searches_only_their_own_clients(reporting: Reporting) -> None:
    async with reporting.client.get(
        "/api/contacts", params={"q": "Roe"}, headers=await as_role(reporting, "manager")
    ) as r:
        assert (await r.json())["results"] == []


async def test_operators_edit_merge_and_record_consent_as_actions(reporting: Reporting) -> None:
    office = reporting.office
    otto = await as_role(reporting, "operator")
    base = f"/api/contacts/{office.ann_contact}"
    edit = {"first_name": "Janet", "add_phones": ["415.555.0299"], "add_emails": ["Janet@Client.test"]}
    async with reporting.client.post(base, json=edit, headers=otto) as r:
        assert r.status == 202, await r.text()
    async with reporting.client.post(base, json={"add_phones": ["12"]}, headers=otto) as r:
        assert r.status == 422
        assert (await problem_of(r))["errors"][0]["field"] == "add_phones"
    async with reporting.client.post(
        f"{base}/merge", json={"duplicate_id": str(office.bob_contact)}, headers=otto
    ) as r:
        assert r.status == 202
    consent = {"channel": "email", "granted": True, "source": "said yes on the phone"}
    async with reporting.client.post(f"{base}/consent", json=consent, headers=otto) as r:
        assert r.status == 202
    async with reporting.client.post(base, json=edit, headers=await as_role(reporting, "manager")) as r:
        assert r.status == 403, "managers do not edit personal data"
    async with reporting.client.post(f"/api/interactions/{office.ann_missed}/outcome", json={}, headers=otto) as r:
        assert r.status == 403, "operators do not set outcomes"
    records = await read_topic(reporting.kafka, reporting.kafka.topics(ACTIONS), expect=3)
    actions = {type(a): a for a in (ACTION_ADAPTER.validate_json(r.value) for r in records)}
    edited = actions[EditContact]
    assert isinstance(edited, EditContact)
    assert (edited.first_name, edited.add_phones, edited.add_emails) == (
        "Janet",
        ("+14155550299",),
        ("janet@client.test",),
    )
    assert edited.actor_id == "otto@example.com"
    merged = actions[MergeContacts]
    assert isinstance(merged, MergeContacts)
    assert merged.duplicate_id == office.bob_contact
    assert isinstance(actions[RecordConsent], RecordConsent)


async def test_the_admin_previews_then_hands_a_departing_managers_base_over(reporting: Reporting) -> None:
    office = reporting.office
    admin = await as_role(reporting, "admin")
    ann_token = await issue_api_token(reporting.pool, ACCOUNTS["manager"][0])
    async with reporting.client.get(
        "/api/handover", params={"manager_id": "m-ann", "team": "east"}, headers=admin
    ) as r:
        preview = (await r.json())["preview"]
    assert [(c["id"], c["to"]) for c in preview["contacts"]] == [(str(office.ann_contact), "m-bob")]
    assert preview["counts"] == {"m-bob": 1}
    assert await read_topic(reporting.kafka, reporting.kafka.topics(ACTIONS), timeout=2) == [], (
        "a preview is not a change"
    )
    async with reporting.client.post("/api/handover", json={"manager_id": "m-ann", "team": "east"}, headers=admin) as r:
        assert r.status == 202, await r.text()
        assert (await r.json())["moved"] == {"m-bob": 1}
    records = await read_topic(reporting.kafka, reporting.kafka.topics(ACTIONS), expect=2)
    actions = [ACTION_ADAPTER.validate_json(r.value) for r in records]
    reassigned = [a for a in actions if isinstance(a, ReassignContact)]
    assert [(a.contact_id, a.manager_id) for a in reassigned] == [(office.ann_contact, "m-bob")]
    [departed] = [a for a in actions if isinstance(a, UpsertManager)]
    assert (departed.manager_id, departed.active, departed.name) == ("m-ann", False, "Ann Lee")
    assert (await reporting.client.get("/api/queue", headers=bearer(ann_token))).status == 401
    async with reporting.client.post("/api/handover", json={"manager_id": "m-bob", "to": "m-bob"}, headers=admin) as r:
        assert r.status == 422, "nobody hands over to themselves"


async def test_each_role_reads_the_audit_trail_within_its_reach(reporting: Reporting) -> None:
    seen = {}
    for role in ("manager", "supervisor", "admin"):
        async with reporting.client.get("/api/audit", headers=await as_role(reporting, role)) as r:
            seen[role] = sorted(e["actor_id"] for e in (await r.json())["entries"])
    assert seen == {"manager": ["m-ann"], "supervisor": ["m-ann"], "admin": ["m-ann", "m-cid"]}


async def test_a_merged_duplicate_is_never_found_nor_changed_and_its_page_says_where_it_went(
    reporting: Reporting,
) -> None:
    office, dup = reporting.office, uuid.uuid4()
    await reporting.pool.execute(
        """INSERT INTO contacts (id, owner_id, first_name, last_name, created_automatically, merged_into)
           VALUES ($1, 'm-ann', 'Jane', 'Dupe', false, $2)""",
        dup,
        office.ann_contact,
    )
    otto = await as_role(reporting, "operator")
    for q in ("dupe", "jane"):
        async with reporting.client.get("/api/contacts", params={"q": q}, headers=otto) as r:
            assert str(dup) not in [c["id"] for c in (await r.json())["results"]], q
    async with reporting.client.get(f"/api/contacts/{dup}", headers=otto) as r:
        body = await r.json()
    assert body["contact"]["merged_into"] == str(office.ann_contact)
    assert (body["can_edit"], "addresses" in body["contact"]) == (False, False)

    await log_in(reporting.client, ACCOUNTS["operator"][0])
    page = await (await reporting.client.get(f"/contacts/{dup}")).text()
    assert f'href="/contacts/{office.ann_contact}"' in page
    assert "merged into" in page
    assert "Record consent" not in page, "nothing to edit on a merged duplicate"
    reporting.client.session.cookie_jar.clear()

    async with reporting.client.post(f"/api/contacts/{dup}", json={"first_name": "Jo"}, headers=otto) as r:
        assert r.status == 422
        assert (await problem_of(r))["errors"][0]["field"] == "contact_id"
    async with reporting.client.post(
        f"/api/contacts/{office.ann_contact}/merge", json={"duplicate_id": str(dup)}, headers=otto
    ) as r:
        assert r.status == 422
    async with reporting.client.get(
        "/api/handover", params={"manager_id": "m-ann", "to": "m-bob"}, headers=await as_role(reporting, "admin")
    ) as r:
        assert [c["id"] for c in (await r.json())["preview"]["contacts"]] == [str(office.ann_contact)]
    assert await read_topic(reporting.kafka, reporting.kafka.topics(ACTIONS), timeout=2) == []


async def test_recorded_consent_shows_on_the_contact_page(reporting: Reporting) -> None:
    await reporting.pool.execute(
        """INSERT INTO contact_consents (contact_id, channel, granted, source, recorded_by, recorded_at)
           VALUES ($1, 'email', true, 'said yes on the call', 'otto@example.com', now()),
                  ($1, 'sms', false, 'asked for no texts', 'otto@example.com', now())""",
        reporting.office.ann_contact,
    )
    async with reporting.client.get(
        f"/api/contacts/{reporting.office.ann_contact}", headers=await as_role(reporting, "manager")
    ) as r:
        consents = (await r.json())["contact"]["consents"]
    assert [(c["channel"], c["granted"], c["source"]) for c in consents] == [
        ("email", True, "said yes on the call"),
        ("sms", False, "asked for no texts"),
    ]
    await log_in(reporting.client, ACCOUNTS["manager"][0])
    page = await (await reporting.client.get(f"/contacts/{reporting.office.ann_contact}")).text()
    assert "said yes on the call" in page
    assert "withdrawn" in page
