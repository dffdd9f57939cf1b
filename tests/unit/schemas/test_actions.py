"""The actions contract: a discriminated union by `kind`, with what a model can check alone checked there."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.actions import ACTION_ADAPTER, MarkNumber, RecordMeeting, SetPlan

BASE = {"event_id": "a-1", "actor_id": "m-ann", "occurred_at": "2026-11-26T10:00:00Z"}
MEETING = {
    "date": "2026-11-27",
    "last_name": "Doe",
    "first_name": "Jane",
    "phone": "+14155550123",
    "topic": "pricing",
    "result": "agreed on a trial",
}


def meeting_action(**meeting: Any) -> bytes:
    return json.dumps(
        {
            **BASE,
            "kind": "record_meeting",
            "meeting_id": str(uuid.uuid4()),
            "contact_id": str(uuid.uuid4()),
            "meeting": {**MEETING, **meeting},
        }
    ).encode()


def test_the_kind_tag_picks_the_model() -> None:
    action = ACTION_ADAPTER.validate_json(meeting_action())
    assert isinstance(action, RecordMeeting)
    assert action.meeting.last_name == "Doe"


@pytest.mark.parametrize("missing", ["date", "last_name", "first_name", "topic", "result"])
def test_a_meeting_without_its_minimum_data_set_is_refused_with_the_field_named(missing: str) -> None:
    raw = json.loads(meeting_action())
    del raw["meeting"][missing]
    with pytest.raises(ValidationError) as err:
        ACTION_ADAPTER.validate_json(json.dumps(raw))
    assert missing in str(err.value)


def test_blank_names_and_missing_contact_details_are_refused() -> None:
    with pytest.raises(ValidationError, match="last_name"):
        ACTION_ADAPTER.validate_json(meeting_action(last_name="   "))
    with pytest.raises(ValidationError, match="contact details"):
        ACTION_ADAPTER.validate_json(meeting_action(phone=None))
    assert ACTION_ADAPTER.validate_json(meeting_action(phone=None, email="jane@client.test"))


def test_mark_number_needs_exactly_one_target() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        MarkNumber.model_validate({**BASE, "verdict": "wrong"})
    with pytest.raises(ValidationError, match="exactly one"):
        MarkNumber.model_validate(
            {**BASE, "verdict": "wrong", "number": "+14155550123", "interaction_id": str(uuid.uuid4())}
        )


@pytest.mark.parametrize(
    ("period", "ok"),
    [("2026-11", True), ("2026-W48", True), ("2026-11-26", True), ("2026-13", False), ("November", False)],
)
def test_plan_periods(period: str, ok: bool) -> None:
    data = {**BASE, "manager_id": "m-ann", "metric": "meetings", "period": period, "target": 10}
    if ok:
        assert SetPlan.model_validate(data).period == period
    else:
        with pytest.raises(ValidationError):
            SetPlan.model_validate(data)


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValidationError):
        ACTION_ADAPTER.validate_json(json.dumps({**BASE, "kind": "delete_everything"}))
