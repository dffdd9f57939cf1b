"""Topic settings on the real (single-node) broker: topics are created with the replication the cluster's size
calls for and `min.insync.replicas`, and an existing topic that differs from the catalogue stops start-up in
production (naming topic and setting) and is a warning in development."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from structlog.testing import capture_logs

from deploy.local.procs import free_port
from schemas.topics import ALL_TOPICS, CALLS, DAY_MS, DLQ, REPORTS_MANAGER_DAILY
from services.runtime.errors import KafkaUnavailable
from services.runtime.kafka import ensure_topics
from services.runtime.lifecycle import EXIT_STARTUP_REFUSED
from services.runtime.settings import KafkaSettings
from services.runtime.topic_settings import TopicSettingsRefused
from tests.integration.helpers import ServiceProcess, eventually, service_env

pytestmark = pytest.mark.integration


def settings_for(bootstrap: str, replication_factor: int | None = None) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=bootstrap,
        TOUCHPOINT_TOPIC_NAMESPACE=f"t{uuid.uuid4().hex[:10]}",
        TOUCHPOINT_TOPIC_REPLICATION_FACTOR=replication_factor,
    )


async def topic_configs(settings: KafkaSettings, names: list[str]) -> dict[str, dict[str, str]]:
    admin = AIOKafkaAdminClient(**settings.client_kwargs())
    await admin.start()
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    finally:
        await admin.close()
    return {r[3]: {e[0]: e[1] for e in r[4]} for response in responses for r in response.resources}


async def create_topic(settings: KafkaSettings, topic: NewTopic) -> None:
    admin = AIOKafkaAdminClient(**settings.client_kwargs())
    await admin.start()
    try:
        response = await admin.create_topics([topic])
        assert all(code == 0 for _, code, *_ in response.topic_errors), response
    finally:
        await admin.close()


async def test_topics_are_created_with_the_replication_of_a_single_broker_and_then_pass_the_check(
    kafka_bootstrap: str,
) -> None:
    settings = settings_for(kafka_bootstrap)
    await ensure_topics(settings, ALL_TOPICS)
    configs = await topic_configs(settings, [settings.topics(t) for t in ALL_TOPICS])
    for topic in ALL_TOPICS:
        config = configs[settings.topics(topic)]
        assert config["min.insync.replicas"] == "1"
        assert config["cleanup.policy"] == ("compact" if topic.compacted else "delete")
    await ensure_topics(settings, ALL_TOPICS)  # the second start-up finds them as they should be


@pytest.mark.parametrize(
    ("partitions", "config", "setting"),
    [
        (2, {"retention.ms": str(7 * DAY_MS)}, "the partition count is 2, expected 8"),
        (8, {"retention.ms": str(DAY_MS)}, f"retention.ms is {DAY_MS}, expected {7 * DAY_MS}"),
        (8, {"retention.ms": str(7 * DAY_MS), "cleanup.policy": "compact"}, "cleanup.policy is compact"),
    ],
    ids=["partitions", "retention", "cleanup-policy"],
)
async def test_a_calls_topic_with_wrong_settings_is_refused_in_production_and_warned_about_in_development(
    kafka_bootstrap: str, partitions: int, config: dict[str, str], setting: str
) -> None:
    production = settings_for(kafka_bootstrap)
    name = production.topics(CALLS)
    await create_topic(production, NewTopic(name, partitions, 1, topic_configs=config))
    with pytest.raises(TopicSettingsRefused, match=f"topic {name}: {setting}"):
        await ensure_topics(production, ALL_TOPICS)

    development = production.model_copy(update={"environment": "development"})
    with capture_logs() as logs:
        await ensure_topics(development, ALL_TOPICS)
    warnings = [e for e in logs if e["event"] == "kafka.topic_settings_differ"]
    assert len(warnings) == 1 and any(setting in reason for reason in warnings[0]["reasons"])


async def test_a_dead_letter_topic_created_with_a_longer_retention_is_lowered_at_start_up_in_production(
    kafka_bootstrap: str,
) -> None:
    """Clusters created before the dead letters' retention became 7 days keep personal data 30: the check alters
    that one setting in place, keeping the topic's other settings, and the next start-up finds nothing to do."""
    settings = settings_for(kafka_bootstrap)
    name = settings.topics(DLQ)
    old = {"retention.ms": str(30 * DAY_MS), "min.insync.replicas": "1", "max.message.bytes": "2000000"}
    await create_topic(settings, NewTopic(name, DLQ.partitions, 1, topic_configs=old))
    with capture_logs() as logs:
        await ensure_topics(settings, ALL_TOPICS)
    [lowered] = [e for e in logs if e["event"] == "kafka.topic_retention_lowered"]
    assert (lowered["topic"], lowered["from_ms"], lowered["to_ms"]) == (name, str(30 * DAY_MS), str(7 * DAY_MS))

    async def lowered_config() -> dict[str, str] | None:  # the broker applies an alteration a moment later
        config = (await topic_configs(settings, [name]))[name]
        return config if config["retention.ms"] == str(7 * DAY_MS) else None

    config = await eventually(lowered_config, timeout=10)
    assert (config["max.message.bytes"], config["min.insync.replicas"]) == ("2000000", "1")
    with capture_logs() as logs:
        await ensure_topics(settings, ALL_TOPICS)
    assert not [e for e in logs if e["event"].startswith("kafka.topic_")], logs


async def test_a_compacted_topic_that_deletes_is_refused(kafka_bootstrap: str) -> None:
    settings = settings_for(kafka_bootstrap)
    name = settings.topics(REPORTS_MANAGER_DAILY)
    deleting = NewTopic(name, REPORTS_MANAGER_DAILY.partitions, 1, topic_configs={"cleanup.policy": "delete"})
    await create_topic(settings, deleting)
    with pytest.raises(TopicSettingsRefused, match=f"topic {name}: cleanup.policy is delete, expected compact"):
        await ensure_topics(settings, ALL_TOPICS)


async def test_min_insync_below_the_configured_value_is_refused(kafka_bootstrap: str) -> None:
    settings = settings_for(kafka_bootstrap)
    await ensure_topics(settings, ALL_TOPICS)  # 1/1 on one broker
    stricter = settings.model_copy(update={"topic_min_insync_replicas": 1, "topic_replication_factor": 1})
    await ensure_topics(stricter, ALL_TOPICS)
    with pytest.raises(TopicSettingsRefused, match="more than the replication factor 1"):
        await ensure_topics(settings.model_copy(update={"topic_min_insync_replicas": 2}), ALL_TOPICS)


async def test_more_replicas_than_brokers_is_refused_before_anything_is_created(kafka_bootstrap: str) -> None:
    settings = settings_for(kafka_bootstrap, replication_factor=3)
    with pytest.raises(TopicSettingsRefused, match="REPLICATION_FACTOR=3 but the cluster has 1 broker"):
        await ensure_topics(settings, ALL_TOPICS)


async def test_a_broker_not_up_yet_is_waited_for_not_refused() -> None:
    settings = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}", request_timeout_ms=2000)
    with pytest.raises(KafkaUnavailable, match="cannot check topics"):
        await ensure_topics(settings, ALL_TOPICS)


async def test_the_classifier_refuses_to_start_on_a_wrong_topic_instead_of_retrying(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(kafka_bootstrap)
    name = settings.topics(CALLS)
    await create_topic(settings, NewTopic(name, 3, 1, topic_configs={"retention.ms": str(7 * DAY_MS)}))
    classifier = ServiceProcess("classifier", service_env(settings, database_url), tmp_path / "classifier.log")
    await classifier.start(wait_ready=False)
    try:
        assert await classifier.wait_exit(60) == EXIT_STARTUP_REFUSED
    finally:
        await classifier.stop()
    output = (tmp_path / "classifier.log").read_text()
    assert f"start-up refused: topic {name}: the partition count is 3, expected 8" in output
    assert "startup.waiting" not in output
