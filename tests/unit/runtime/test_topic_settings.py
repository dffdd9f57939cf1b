"""The replication rules follow the cluster's size, configuration wins, and every setting that differs is named."""

from __future__ import annotations

import pytest

from schemas.topics import CALLS, DAY_MS, DLQ, REPORTS_MANAGER_DAILY
from services.runtime.settings import KafkaSettings
from services.runtime.topic_settings import (
    ExistingTopic,
    Replication,
    TopicSettingsRefused,
    replication_for,
    retention_alteration,
    topic_config,
    topic_mismatches,
)


@pytest.mark.parametrize(
    ("brokers", "expected"),
    [(1, Replication(1, 1)), (2, Replication(2, 1)), (3, Replication(3, 2)), (6, Replication(3, 2))],
)
def test_defaults_follow_the_cluster_size(brokers: int, expected: Replication) -> None:
    assert replication_for(brokers) == expected


def test_configured_values_win() -> None:
    assert replication_for(5, factor=5, min_insync=3) == Replication(5, 3)
    assert replication_for(3, min_insync=1) == Replication(3, 1)
    assert replication_for(3, factor=2) == Replication(2, 1)


def test_settings_that_cannot_work_are_refused() -> None:
    with pytest.raises(TopicSettingsRefused, match="REPLICATION_FACTOR=3 but the cluster has 1 broker"):
        replication_for(1, factor=3)
    with pytest.raises(TopicSettingsRefused, match="MIN_INSYNC_REPLICAS=3 is more than the replication factor 2"):
        replication_for(3, factor=2, min_insync=3)


def test_topic_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_TOPIC_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("TOUCHPOINT_TOPIC_MIN_INSYNC_REPLICAS", "2")
    monkeypatch.setenv("TOUCHPOINT_ENV", "development")
    settings = KafkaSettings()
    assert (settings.topic_replication_factor, settings.topic_min_insync_replicas) == (3, 2)
    assert settings.environment == "development"
    monkeypatch.setenv("TOUCHPOINT_TOPIC_REPLICATION_FACTOR", "")
    monkeypatch.delenv("TOUCHPOINT_ENV")
    settings = KafkaSettings()
    assert settings.topic_replication_factor is None
    assert settings.environment == "production"


def existing(partitions: int = 8, rf: int = 3, config: dict[str, str] | None = None) -> ExistingTopic:
    base = {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS), "min.insync.replicas": "2"}
    return ExistingTopic("touchpoint.calls.v1", partitions, rf, {**base, **(config or {})})


def test_a_topic_as_the_catalogue_says_passes() -> None:
    assert topic_mismatches(CALLS, existing(), Replication(3, 2)) == []
    assert topic_mismatches(CALLS, existing(rf=5, config={"min.insync.replicas": "3"}), Replication(3, 2)) == []


def test_every_setting_that_differs_is_named() -> None:
    reasons = topic_mismatches(
        CALLS,
        existing(4, 1, {"cleanup.policy": "compact", "retention.ms": str(DAY_MS), "min.insync.replicas": "1"}),
        Replication(3, 2),
    )
    assert reasons == [
        "topic touchpoint.calls.v1: the partition count is 4, expected 8",
        "topic touchpoint.calls.v1: the replication factor is 1, expected at least 3",
        "topic touchpoint.calls.v1: cleanup.policy is compact, expected delete",
        f"topic touchpoint.calls.v1: retention.ms is {DAY_MS}, expected {7 * DAY_MS}",
        "topic touchpoint.calls.v1: min.insync.replicas is 1, expected at least 2",
    ]


def test_min_insync_above_the_replicas_would_refuse_every_write() -> None:
    reasons = topic_mismatches(CALLS, existing(rf=3, config={"min.insync.replicas": "4"}), Replication(3, 2))
    assert reasons == ["topic touchpoint.calls.v1: min.insync.replicas is 4, expected at most its replication factor 3"]


def test_a_compacted_topic_is_checked_for_its_policy_not_a_retention() -> None:
    topic = ExistingTopic(REPORTS_MANAGER_DAILY.name, 4, 1, {"cleanup.policy": "compact", "min.insync.replicas": "1"})
    assert topic_mismatches(REPORTS_MANAGER_DAILY, topic, Replication(1, 1)) == []
    assert topic_config(REPORTS_MANAGER_DAILY, Replication(3, 2)) == {
        "cleanup.policy": "compact",
        "min.insync.replicas": "2",
    }


def dlq(retention_ms: str | None, overrides: dict[str, str] | None = None) -> ExistingTopic:
    config = {"cleanup.policy": "delete", "min.insync.replicas": "1"}
    if retention_ms is not None:
        config["retention.ms"] = retention_ms
    return ExistingTopic(DLQ.name, DLQ.partitions, 1, config, overrides or {})


@pytest.mark.parametrize("retention", [str(30 * DAY_MS), "-1", None])
def test_a_dead_letter_topic_kept_longer_than_its_ceiling_is_altered_keeping_its_own_settings(
    retention: str | None,
) -> None:
    own = {"max.message.bytes": "2000000", **({"retention.ms": retention} if retention else {})}
    assert retention_alteration(DLQ, dlq(retention, own)) == {
        "retention.ms": str(7 * DAY_MS),
        "max.message.bytes": "2000000",
    }
    reasons = topic_mismatches(DLQ, dlq(retention), Replication(1, 1))
    assert reasons == [f"topic {DLQ.name}: retention.ms is {retention}, expected at most {7 * DAY_MS}"]


@pytest.mark.parametrize("retention", [str(7 * DAY_MS), str(DAY_MS)])
def test_a_dead_letter_topic_within_its_ceiling_is_left_alone(retention: str) -> None:
    assert retention_alteration(DLQ, dlq(retention)) is None
    assert topic_mismatches(DLQ, dlq(retention), Replication(1, 1)) == []


def test_only_the_dead_letter_topics_retention_is_ever_altered() -> None:
    longer = existing(config={"retention.ms": str(30 * DAY_MS)})
    assert retention_alteration(CALLS, longer) is None
