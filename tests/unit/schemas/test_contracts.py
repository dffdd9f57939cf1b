"""The checked-in JSON Schema and OpenAPI files are what the code generates: analysts read the files."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.generate import expected_files
from schemas.topics import ALL_TOPICS, TopicNames
from services.ingest.openapi import build_openapi

ROOT = Path(__file__).resolve().parents[3]


def test_json_schema_files_are_in_sync_with_the_models() -> None:
    for path, text in expected_files().items():
        assert path.exists(), f"{path} missing: run `make schemas`"
        assert path.read_text() == text, f"{path} is stale: run `make schemas`"


def test_openapi_file_is_in_sync_with_the_code() -> None:
    checked_in = json.loads((ROOT / "docs" / "openapi" / "ingest.json").read_text())
    assert checked_in == build_openapi(), "docs/openapi/ingest.json is stale: run `make schemas`"


def test_topic_names_are_the_public_contract() -> None:
    assert [t.name for t in ALL_TOPICS] == [
        "touchpoint.calls.v1",
        "touchpoint.emails.v1",
        "touchpoint.actions.v1",
        "touchpoint.interactions.v1",
        "touchpoint.tasks.v1",
        "touchpoint.reports.manager-daily.v1",
        "touchpoint.reports.team-daily.v1",
        "touchpoint.reports.callback-sla.v1",
        "touchpoint.dlq.v1",
    ]
    names = TopicNames("test1")
    assert names(ALL_TOPICS[0]) == "test1.touchpoint.calls.v1"
    assert names.lookup("test1.touchpoint.dlq.v1") == ALL_TOPICS[-1]
    assert TopicNames().lookup("test1.touchpoint.dlq.v1") is None


def test_reports_topic_is_compacted_and_others_have_retention() -> None:
    for topic in ALL_TOPICS:
        config = topic.config()
        if topic.compacted:
            assert config["cleanup.policy"] == "compact"
        else:
            assert int(config["retention.ms"]) >= 7 * 24 * 3600 * 1000
