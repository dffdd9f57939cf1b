from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.classifier.seed_managers import InvalidManagersFile, manager_actions

NOW = datetime(2026, 11, 26, tzinfo=UTC)
EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "managers.example.json"


def test_the_example_file_becomes_one_action_per_manager() -> None:
    actions = manager_actions(json.loads(EXAMPLE.read_text()), NOW)
    assert [(a.manager_id, a.extensions, a.on_duty, a.team) for a in actions] == [
        ("m-ann", ("101",), True, "east"),
        ("m-bob", ("102",), True, "east"),
        ("m-cid", ("103", "113"), False, "west"),
    ]
    users = json.loads((EXAMPLE.parent / "users.example.json").read_text())
    supervised = {u["team"] for u in users if u["role"] == "supervisor"}
    assert supervised <= {a.team for a in actions}, "the example supervisor's team is one the managers are in"
    assert {(u["manager_id"], u["team"]) for u in users if u["role"] == "manager"} == {
        (a.manager_id, a.team) for a in actions
    }, "each example manager's account is in the team the classifier knows them in"


def test_the_same_entry_always_gives_the_same_event_id_and_an_edit_a_new_one() -> None:
    entry = {"id": "m-ann", "name": "Ann"}
    assert manager_actions([entry], NOW)[0].event_id == manager_actions([entry], NOW)[0].event_id
    assert manager_actions([entry], NOW)[0].event_id != manager_actions([{**entry, "on_duty": True}], NOW)[0].event_id


@pytest.mark.parametrize(
    "bad", [{"managers": []}, [{"name": "no id"}], [{"id": "m", "name": "x", "extensions": ["ext-1"]}]]
)
def test_bad_files_are_refused_with_the_entry_named(bad: object) -> None:
    with pytest.raises(InvalidManagersFile):
        manager_actions(bad, NOW)
