"""Contact and task ids keyed with TOUCHPOINT_ID_KEY, the key held to the secret rule; the offset gap rule."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from services.classifier.fence_offsets import Gap, find_gaps
from services.classifier.key_ids import Ids
from services.classifier.settings import PolicySettings


def test_ids_are_deterministic_per_key_and_not_the_public_uuid5() -> None:
    a, b = Ids(b"first-installation-key"), Ids(b"second-installation-key")
    origin = uuid.uuid4()
    assert a.contact("+14155550123") == a.contact("+14155550123")
    assert a.contact("+14155550123") != b.contact("+14155550123")
    assert a.task("callback", origin, "address:+14155550123") == a.task("callback", origin, "address:+14155550123")
    assert a.task("callback", origin, "address:+14155550123") != b.task("callback", origin, "address:+14155550123")
    public = uuid.uuid5(uuid.UUID("0d7f3c2a-6a51-4f0e-8c53-2f3b9a1e7c44"), "contact:+14155550123")
    assert a.contact("+14155550123") != public


@pytest.mark.parametrize(
    ("value", "env", "reason"),
    [
        (None, "production", "TOUCHPOINT_ID_KEY is not set"),
        ("   ", "production", "TOUCHPOINT_ID_KEY is not set"),
        ("short", "development", "at least 16"),
        ("dev-touchpoint-id-key", "production", "public development value"),
        ("CHANGE-ME", "production", "characters"),
        ("CHANGE-ME-BEFORE-DEPLOYING", "production", "placeholder"),
    ],
)
def test_an_unusable_id_key_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, value: str | None, env: str, reason: str
) -> None:
    monkeypatch.setenv("TOUCHPOINT_ENV", env)
    if value is None:
        monkeypatch.delenv("TOUCHPOINT_ID_KEY", raising=False)
    else:
        monkeypatch.setenv("TOUCHPOINT_ID_KEY", value)
    with pytest.raises(ValidationError, match=reason) as refused:
        PolicySettings()
    assert value is None or not value.strip() or value not in str(refused.value), "the key is never echoed"


def test_the_development_id_key_is_accepted_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_ENV", "development")
    monkeypatch.setenv("TOUCHPOINT_ID_KEY", "dev-touchpoint-id-key")
    assert PolicySettings().policy().ids == Ids(b"dev-touchpoint-id-key")


def test_stored_offsets_outside_the_log_are_gaps_resuming_at_the_log_start() -> None:
    stored = {("t", 0): 2, ("t", 1): 50, ("t", 2): 7, ("t", 3): -1}
    bounds = {("t", 0): (6, 10), ("t", 1): (0, 3), ("t", 2): (0, 9), ("t", 3): (4, 9)}
    assert find_gaps(stored, bounds) == [
        Gap("t", 0, 2, 6, "below_log_start", 6),
        Gap("t", 1, 3, 50, "above_log_end", 0),
    ]
