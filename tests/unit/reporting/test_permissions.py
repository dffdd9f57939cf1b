"""The permission table's own promises, checked on the data."""

from __future__ import annotations

from typing import get_args

from services.reporting.permissions import RULES, Kind, Reach

ORDER: dict[Reach, int] = {"own": 0, "team": 1, "all": 2}


def test_every_role_reaches_personal_data_at_least_as_far_as_the_records_it_is_shown() -> None:
    """Pages mask by role alone; that is right only while this holds (an analyst holds no personal data grant
    and so sees every record masked)."""
    for (role, verb, kind), reach in RULES.items():
        if kind in ("interaction", "task", "contact", "audit", "audience") and verb == "read":
            personal = RULES.get((role, "read", "personal_data"))
            if personal is None:
                continue
            assert ORDER[personal] >= ORDER[reach], (role, kind)


def test_analysts_hold_no_personal_data_and_operators_no_outcomes() -> None:
    assert ("analyst", "read", "personal_data") not in RULES
    assert ("analyst", "read", "contact") not in RULES
    assert ("analyst", "read", "audience") not in RULES, "a campaign list is names and numbers"
    assert ("operator", "change", "interaction") not in RULES


def test_the_table_uses_only_known_kinds() -> None:
    assert {kind for _, _, kind in RULES} <= set(get_args(Kind))


def test_the_checked_in_openapi_document_is_generated_from_the_route_table() -> None:
    import json
    from pathlib import Path

    from services.reporting.openapi import document

    checked_in = Path(__file__).resolve().parents[3] / "docs" / "openapi" / "reporting.json"
    assert json.loads(checked_in.read_text()) == document(), "docs/openapi/reporting.json is stale: run `make schemas`"
