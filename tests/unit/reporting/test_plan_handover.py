"""Spreading a departing manager's base: even, stable, and fair to who already carries more."""

from __future__ import annotations

import pytest

from services.reporting.plan_handover import plan_handover


def test_everything_goes_to_the_one_manager_named() -> None:
    plan = plan_handover(["c1", "c2"], ["t1"], ["m-bob"])
    assert plan.contacts == {"c1": "m-bob", "c2": "m-bob"}
    assert plan.tasks == {"t1": "m-bob"}
    assert plan.counts() == {"m-bob": 3}


def test_a_team_gets_an_even_share_each() -> None:
    plan = plan_handover([f"c{i}" for i in range(7)], [f"t{i}" for i in range(2)], ["a", "b", "c"])
    assert plan.counts() == {"a": 3, "b": 3, "c": 3}


def test_who_already_carries_more_gets_less() -> None:
    plan = plan_handover(["c1", "c2", "c3", "c4"], [], ["a", "b"], load={"a": 4})
    assert plan.counts() == {"b": 4}


def test_the_same_input_gives_the_same_plan() -> None:
    args = ([f"c{i}" for i in range(5)], ["t"], ["x", "y"])
    assert plan_handover(*args) == plan_handover(*args)


def test_no_targets_is_refused() -> None:
    with pytest.raises(ValueError, match="no manager"):
        plan_handover(["c1"], [], [])
