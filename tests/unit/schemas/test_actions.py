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


# One action of every kind with every string field filled: each string must refuse a control character.
_EVERY_KIND: list[dict[str, Any]] = [
    {"kind": "set_outcome", "interaction_id": str(uuid.uuid4()), "outcome": "connected"},
    {"kind": "open_deal", "deal_id": str(uuid.uuid4()), "contact_id": str(uuid.uuid4()), "interaction_id": None},
    {"kind": "close_deal", "deal_id": str(uuid.uuid4()), "result": "won", "amount": 1200},
    {
        "kind": "record_meeting",
        "meeting_id": str(uuid.uuid4()),
        "contact_id": str(uuid.uuid4()),
        "interaction_id": str(uuid.uuid4()),
        "meeting": {**MEETING, "email": "jane@client.test"},
    },
    {"kind": "reassign_contact", "contact_id": str(uuid.uuid4()), "manager_id": "m-bob"},
    {"kind": "set_plan", "manager_id": "m-bob", "metric": "meetings", "period": "2026-11", "target": 5},
    {"kind": "mark_number", "verdict": "spam", "number": "+14155550123"},
    {"kind": "set_number_list", "number": "+14155550123", "list": "block"},
    {
        "kind": "upsert_manager",
        "manager_id": "m-bob",
        "name": "Bob Smith",
        "email": "bob@example.com",
        "extensions": ["101"],
        "team": "North",
    },
    {"kind": "close_task", "task_id": str(uuid.uuid4()), "resolution": "done"},
    {
        "kind": "edit_contact",
        "contact_id": str(uuid.uuid4()),
        "first_name": "Jane",
        "last_name": "Doe",
        "add_phones": ["+14155550123"],
        "remove_phones": ["+14155550124"],
        "add_emails": ["jane@client.test"],
        "remove_emails": ["old@client.test"],
    },
    {"kind": "merge_contacts", "contact_id": str(uuid.uuid4()), "duplicate_id": str(uuid.uuid4())},
    {"kind": "record_consent", "contact_id": str(uuid.uuid4()), "channel": "email", "granted": True, "source": "call"},
    {"kind": "reassign_task", "task_id": str(uuid.uuid4()), "manager_id": "m-bob"},
]
_NOTES = {("meeting", "result"), ("source",)}  # typed into text areas: TAB and line ends are kept


def _string_paths(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() if k != "kind" for p in _string_paths(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _string_paths(v, (*path, i))]
    return []


def _with(value: Any, path: tuple[str | int, ...], text: str) -> Any:
    if not path:
        return text
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _with(value[path[0]], path[1:], text)  # type: ignore[index]
    return copy


def test_the_samples_cover_every_kind_and_are_valid() -> None:
    assert {a["kind"] for a in _EVERY_KIND} == set(ACTION_ADAPTER.json_schema()["discriminator"]["mapping"])
    for action in _EVERY_KIND:
        ACTION_ADAPTER.validate_python({**BASE, **action})


@pytest.mark.parametrize("action", _EVERY_KIND, ids=lambda a: str(a["kind"]))
@pytest.mark.parametrize("control", ["\x00", "\x01", "\x1b", "\x7f", "\n"])
def test_no_string_of_an_action_holds_a_control_character(action: dict[str, Any], control: str) -> None:
    """NUL would be refused by PostgreSQL only when the action is applied; refused at decode, the action is
    dead-lettered naming the field, and reporting answers 422 naming it."""
    whole = {**BASE, **action}
    for path in _string_paths(whole):
        value = _get(whole, path)
        tainted = _with(whole, path, value[:1] + control + value[1:])
        if control == "\n" and tuple(p for p in path if isinstance(p, str)) in _NOTES:
            ACTION_ADAPTER.validate_python(tainted)
            continue
        with pytest.raises(ValidationError) as refused:
            ACTION_ADAPTER.validate_python(tainted)
        locations = [e["loc"][1:] for e in refused.value.errors()]  # after the kind tag
        assert path in locations, (path, locations)


def _get(value: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def test_notes_keep_tabs_and_line_ends_but_are_never_blank() -> None:
    ok = ACTION_ADAPTER.validate_json(meeting_action(result="Agreed:\r\n\t- a trial\n- a quote"))
    assert isinstance(ok, RecordMeeting) and ok.meeting.result.count("\n") == 2
    with pytest.raises(ValidationError):
        ACTION_ADAPTER.validate_json(meeting_action(result="\n\t \r\n"))
