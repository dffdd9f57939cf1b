"""Control characters in people's input, end to end: reporting refuses them with a 422 naming the field and
produces nothing, keeps line ends in notes, and the classifier dead-letters an action with one when decoding it
(the schema refuses it), so PostgreSQL never sees it."""

from __future__ import annotations

import json

import pytest

from schemas.actions import ACTION_ADAPTER, RecordMeeting
from schemas.topics import ACTIONS
from services.classifier.decode import decode
from services.reporting.accounts import issue_api_token
from services.runtime.errors import InvalidRecord
from tests.integration.helpers import read_topic
from tests.integration.reporting_world import ACCOUNTS, Reporting, bearer, problem_of

pytestmark = pytest.mark.integration

MEETING = {"date": "2026-11-30", "last_name": "Doe", "first_name": "Jane", "phone": "+14155550201"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("topic", "Pricing\x00"), ("last_name", "Do\x1be"), ("result", "Wants\x07 a quote"), ("topic", "two\nlines")],
)
async def test_a_meeting_with_a_control_character_is_422_naming_the_field_and_nothing_is_produced(
    reporting: Reporting, field: str, value: str
) -> None:
    ann = bearer(await issue_api_token(reporting.pool, ACCOUNTS["manager"][0]))
    body = {**MEETING, "topic": "Pricing", "result": "Wants a quote", field: value}
    async with reporting.client.post(
        f"/api/contacts/{reporting.office.ann_contact}/meetings", json=body, headers=ann
    ) as response:
        assert response.status == 422
        problem = await problem_of(response)
    assert [e["field"] for e in problem["errors"]] == [field]
    assert await read_topic(reporting.kafka, reporting.kafka.topics(ACTIONS), timeout=2) == []


async def test_a_meetings_result_keeps_its_line_ends(reporting: Reporting) -> None:
    ann = bearer(await issue_api_token(reporting.pool, ACCOUNTS["manager"][0]))
    body = {**MEETING, "topic": "Pricing", "result": "Agreed:\n\t- a trial\n\t- a quote"}
    async with reporting.client.post(
        f"/api/contacts/{reporting.office.ann_contact}/meetings", json=body, headers=ann
    ) as response:
        assert response.status == 202, await response.text()
    [record] = await read_topic(reporting.kafka, reporting.kafka.topics(ACTIONS), expect=1)
    action = ACTION_ADAPTER.validate_json(record.value)
    assert isinstance(action, RecordMeeting) and action.meeting.result == body["result"]


def test_the_classifier_refuses_an_action_with_nul_when_decoding_it_naming_the_field() -> None:
    raw = json.dumps(
        {
            "schema": "touchpoint.actions/1",
            "kind": "upsert_manager",
            "event_id": "nul:1",
            "actor_id": "admin",
            "occurred_at": "2026-11-30T10:00:00Z",
            "manager_id": "m-nul",
            "name": "a\u0000b",
        }
    ).encode()
    with pytest.raises(InvalidRecord) as refused:
        decode(ACTIONS, raw)
    assert refused.value.error_class == "ValidationError"
    assert str(refused.value).startswith("upsert_manager.name:")
