"""The replication a topic needs on this cluster, and how an existing topic differs from the catalogue. Pure rules,
tested without a broker; `services/runtime/kafka.py` `ensure_topics` reads the cluster and applies them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from schemas.topics import DLQ, Topic
from services.runtime.errors import StartupRefused

# With acks=all an acknowledged record is on `min.insync.replicas` brokers; 3 replicas and 2 in sync survive the
# loss of one broker without refusing writes. More replicas than this is the operator's choice (set them).
DEFAULT_MAX_REPLICATION_FACTOR = 3
DEFAULT_MAX_MIN_INSYNC = 2

# Dead letters carry raw payloads (names, numbers): the catalogue's retention of their topic is the longest they may
# be kept. A topic created when it was longer is altered down at start-up, in every environment (the change deletes
# only what must go, and refusing to start would keep the data meanwhile); a shorter one is the operator's choice.
# Other settings are never altered: a partition count or replication change needs an operator.
RETENTION_CEILINGS = frozenset({DLQ.name})


class TopicSettingsRefused(StartupRefused):
    """The topic settings asked for cannot work on this cluster, or an existing topic differs from the catalogue."""


@dataclass(frozen=True, slots=True)
class Replication:
    factor: int
    min_insync: int


def replication_for(brokers: int, factor: int | None = None, min_insync: int | None = None) -> Replication:
    """What is configured wins; otherwise the cluster's size decides: RF = min(3, brokers) and min.insync =
    min(2, RF - 1), at least 1. So 1/1 on a single development broker, 2/1 on two brokers (one may be down),
    3/2 on three or more (an ack survives a lost broker)."""
    rf = factor if factor is not None else min(DEFAULT_MAX_REPLICATION_FACTOR, max(1, brokers))
    isr = min_insync if min_insync is not None else max(1, min(DEFAULT_MAX_MIN_INSYNC, rf - 1))
    if rf > brokers:
        raise TopicSettingsRefused(
            f"TOUCHPOINT_TOPIC_REPLICATION_FACTOR={rf} but the cluster has {brokers} broker(s): topics could not be"
            " created; lower it or add brokers"
        )
    if isr > rf:
        raise TopicSettingsRefused(
            f"TOUCHPOINT_TOPIC_MIN_INSYNC_REPLICAS={isr} is more than the replication factor {rf}: every write"
            " would be refused (NotEnoughReplicas)"
        )
    return Replication(rf, isr)


def topic_config(topic: Topic, replication: Replication) -> dict[str, str]:
    """The settings a topic is created with: the catalogue's (cleanup policy, retention) and min.insync."""
    return {**topic.config(), "min.insync.replicas": str(replication.min_insync)}


@dataclass(frozen=True, slots=True)
class ExistingTopic:
    """What the cluster says about a topic: partition count, the fewest replicas of any partition, and the
    effective values (topic override or broker default) of its settings."""

    name: str
    partitions: int
    replication_factor: int
    config: Mapping[str, str]
    overrides: Mapping[str, str] = field(default_factory=dict)  # the topic's own settings, not broker defaults


def topic_mismatches(topic: Topic, existing: ExistingTopic, replication: Replication) -> list[str]:
    """Why `existing` does not serve as the catalogue's `topic`, one reason per setting; empty when it does.
    Partitions, cleanup policy and retention must equal the catalogue (they decide key order and what is kept).
    Replication may be stronger than required, never weaker, and min.insync may not exceed the replicas."""
    reasons: list[str] = []

    def differs(setting: str, actual: object, expected: str) -> None:
        reasons.append(f"topic {existing.name}: {setting} is {actual}, expected {expected}")

    if existing.partitions != topic.partitions:
        differs("the partition count", existing.partitions, str(topic.partitions))
    if existing.replication_factor < replication.factor:
        differs("the replication factor", existing.replication_factor, f"at least {replication.factor}")
    expected = topic_config(topic, replication)
    policy = existing.config.get("cleanup.policy")
    if policy != expected["cleanup.policy"]:
        differs("cleanup.policy", policy, expected["cleanup.policy"])
    retention = existing.config.get("retention.ms")
    if topic.name in RETENTION_CEILINGS:
        if _past_ceiling(topic, retention):
            differs("retention.ms", retention, f"at most {expected['retention.ms']}")
    elif "retention.ms" in expected and retention != expected["retention.ms"]:
        differs("retention.ms", retention, expected["retention.ms"])
    isr = _as_int(existing.config.get("min.insync.replicas"))
    if isr is None or isr < replication.min_insync:
        differs("min.insync.replicas", isr, f"at least {replication.min_insync}")
    elif isr > existing.replication_factor:
        differs("min.insync.replicas", isr, f"at most its replication factor {existing.replication_factor}")
    return reasons


def retention_alteration(topic: Topic, existing: ExistingTopic) -> dict[str, str] | None:
    """The settings to give `existing` when it keeps data longer than its catalogue ceiling allows (all of its own
    settings with the ceiling's retention: AlterConfigs replaces the whole set), else None."""
    if topic.name not in RETENTION_CEILINGS or not _past_ceiling(topic, existing.config.get("retention.ms")):
        return None
    return {**existing.overrides, "retention.ms": str(topic.retention_ms)}


def _past_ceiling(topic: Topic, retention: str | None) -> bool:
    current = _as_int(retention)
    return topic.retention_ms is not None and (current is None or current < 0 or current > topic.retention_ms)


def _as_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def refusal(reasons: Sequence[str]) -> TopicSettingsRefused:
    return TopicSettingsRefused(
        "; ".join(reasons)
        + ". Change the topic to match the catalogue (schemas/topics.py; kafka-configs.sh --alter, or"
        " kafka-reassign-partitions.sh for replicas), or set TOUCHPOINT_TOPIC_REPLICATION_FACTOR /"
        " TOUCHPOINT_TOPIC_MIN_INSYNC_REPLICAS to what this cluster should use"
    )
