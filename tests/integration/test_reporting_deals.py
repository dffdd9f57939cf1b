"""Deals from the API: a manager takes their own client into work and closes the deal (202 once the action is on
touchpoint.actions.v1); another manager's client or deal is 404, a role without the grant 403."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from schemas.actions import ACTION_ADAPTER, CloseDeal, OpenDeal
from schemas.topics import ACTIONS
from services.reporting.accounts import issue_api_token
from tests.integration.helpers import read_topic
from tests.integration.reporting_world import ACCOUNTS, BOB_EMAIL, NOW, Reporting, bearer, problem_of

pytestmark = pytest.mark.integration


async def test_a_manager_opens_and_closes_a_deal_of_their_own_client(reporting: Reporting) -> None:
    ann = bearer(await issue_api_token(reporting.pool, ACCOUNTS["manager"][0]))
    office = reporting.office
    deal_id = uuid.uuid4()
    async with reporting.client.post(
        f"/api/contacts/{office.ann_contact}/deals",
        data=json.dumps({"deal_id": str(deal_id), "interaction_id": str(office.ann_answered)}),
        headers=ann,
    ) as r:
        assert r.status == 202, await r.text()
        assert (await r.json())["deal_id"] == str(deal_id)
    await reporting.pool.execute(  # what the classifier makes of it
        "INSERT INTO deals (id, contact_id, manager_id, status, opened_at) VALUES ($1, $2, 'm-ann', 'open', $3)",
        deal_id, office.ann_contact, NOW,
    )  # fmt: skip
    async with reporting.client.post(
        f"/api/deals/{deal_id}/close", data=json.dumps({"result": "won", "amount": "1200.50"}), headers=ann
    ) as r:
        assert r.status == 202, await r.text()
    records = await read_topic(reporting.kafka, reporting.kafka.topics(ACTIONS), expect=2)
    opened, closed = (ACTION_ADAPTER.validate_json(r.value or b"") for r in records)
    assert isinstance(opened, OpenDeal) and isinstance(closed, CloseDeal)
    assert (opened.contact_id, opened.interaction_id, opened.actor_id) == (office.ann_contact, office.ann_answered,
                                                                           "m-ann")  # fmt: skip
    assert (closed.deal_id, closed.result, str(closed.amount)) == (deal_id, "won", "1200.50")
    assert abs(closed.occurred_at - NOW) < timedelta(seconds=1)


async def test_another_managers_client_and_deal_are_not_found_and_an_analyst_may_not(reporting: Reporting) -> None:
    bob = bearer(await issue_api_token(reporting.pool, BOB_EMAIL))
    ada = bearer(await issue_api_token(reporting.pool, ACCOUNTS["analyst"][0]))
    office = reporting.office
    deal_id = uuid.uuid4()
    await reporting.pool.execute(
        "INSERT INTO deals (id, contact_id, manager_id, status, opened_at) VALUES ($1, $2, 'm-ann', 'open', $3)",
        deal_id, office.ann_contact, NOW,
    )  # fmt: skip
    async with reporting.client.post(f"/api/contacts/{office.ann_contact}/deals", data="{}", headers=bob) as r:
        assert r.status == 404
    async with reporting.client.post(f"/api/deals/{deal_id}/close", data='{"result": "lost"}', headers=bob) as r:
        assert r.status == 404
    async with reporting.client.post(f"/api/deals/{deal_id}/close", data='{"result": "lost"}', headers=ada) as r:
        assert r.status == 403
    sue = bearer(await issue_api_token(reporting.pool, ACCOUNTS["supervisor"][0]))
    async with reporting.client.post(f"/api/deals/{deal_id}/close", data='{"result": "maybe"}', headers=sue) as r:
        assert r.status == 422
        assert (await problem_of(r))["errors"][0]["field"] == "result"
    assert await read_topic(reporting.kafka, reporting.kafka.topics(ACTIONS), timeout=2) == []
