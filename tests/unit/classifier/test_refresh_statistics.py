"""Which tables are analyzed: those that outgrew their statistics, never a settled one."""

from __future__ import annotations

from services.classifier.refresh_statistics import RefreshLimits, TableStats, outgrown

LIMITS = RefreshLimits(min_changes=1000, growth=1.0)


def test_a_never_analyzed_table_is_analyzed_once_enough_rows_changed() -> None:
    assert outgrown([TableStats("interactions", live=999, changed=999, counted=0)], LIMITS) == []
    assert outgrown([TableStats("interactions", live=1000, changed=1000, counted=0)], LIMITS) == ["interactions"]


def test_a_table_is_analyzed_again_when_it_doubled_since_its_statistics() -> None:
    assert outgrown([TableStats("tasks", live=19_999, changed=9_999, counted=10_000)], LIMITS) == []
    assert outgrown([TableStats("tasks", live=20_000, changed=10_000, counted=10_000)], LIMITS) == ["tasks"]


def test_updates_alone_do_not_call_for_an_analyze() -> None:
    # number_stats rows are updated over and over: many changes, no growth.
    assert outgrown([TableStats("number_stats", live=5_000, changed=50_000, counted=5_000)], LIMITS) == []


def test_a_settled_table_is_left_to_autovacuum_and_the_order_is_fixed() -> None:
    stats = [
        TableStats("interactions", live=1_000_000, changed=100_000, counted=950_000),
        TableStats("contacts", live=3_000, changed=3_000, counted=0),
        TableStats("interaction_events", live=6_000, changed=6_000, counted=0),
    ]
    assert outgrown(stats, LIMITS) == ["interaction_events", "contacts"]
