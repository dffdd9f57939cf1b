"""Number evidence and statistics in PostgreSQL: an email vouches for its contact's stored numbers without resetting
their counts, and two workers on numbers of one range (calls of different numbers are on different partitions)
take turns, the second starting from what the first wrote."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from schemas.actions import EditContact, UpsertManager
from schemas.topics import TopicNames
from services.classifier.correlate import interaction_id
from services.classifier.key_ids import UNKEYED_FOR_TESTS as IDS
from services.classifier.load_state import Touched, load_state
from services.classifier.score_spam import after_range_call, range_of
from services.classifier.store import Store
from services.classifier.write_back import snapshot, write_back
from tests.integration.classifier_feed import DirectFeed, action_fields, apply_in_batches
from tests.unit.classifier.factories import CLIENT, POLICY, T0, answered, email, missed

pytestmark = pytest.mark.integration

JANE = "jane@client.test"


async def test_an_email_from_a_lead_vouches_for_its_number_in_the_database(database_url: str) -> None:
    """Issue 11: the lead a call made, with an email address an operator added, writes to us; its number keeps its
    counts, gains the evidence, and a later 3 s call from it is not flagged."""
    feed = DirectFeed()
    feed.add(
        UpsertManager(
            **action_fields(0, -60, "admin", t0=T0),
            manager_id="ann",
            name="Ann",
            email="ann@example.com",
            extensions=("101",),
            on_duty=True,
        )
    )
    feed.add(*answered("c1", talk=30))  # a lead nobody names: no evidence either way
    feed.add(EditContact(**action_fields(1, 10, t0=T0), contact_id=IDS.contact(CLIENT), add_emails=(JANE,)))
    feed.add(email("q1@client.test", minutes=20))
    feed.add(*answered("c2", talk=3, t0=T0 + timedelta(days=1)))
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    try:
        store = Store(pool, "evidence", TopicNames("evidence"), POLICY, clock=lambda: datetime.now(UTC))
        await apply_in_batches(store, feed.records, cuts=(1, 5, 6, 7))
        async with pool.acquire() as conn:
            stats = await conn.fetchrow(
                "SELECT short_calls, calls, evidence, evidence_reason FROM number_stats WHERE address = $1", CLIENT
            )
            flag = await conn.fetchval("SELECT flag FROM interactions WHERE id = $1", interaction_id("generic", "c2"))
    finally:
        await pool.close()
    assert stats is not None
    assert dict(stats) == {"short_calls": 1, "calls": 1, "evidence": 1, "evidence_reason": "an email from them"}
    assert flag is None, "a 3 s call from a number without evidence is flagged"


FIRST, SECOND = "+14155550180", "+14155550181"


def _touched(number: str) -> Touched:
    return Touched(set(), set(), missed(f"call-{number}", counterpart=number), (), ())


async def test_a_second_worker_on_the_same_range_waits_and_keeps_the_first_workers_number(database_url: str) -> None:
    prefix = range_of(FIRST)
    assert prefix is not None and prefix == range_of(SECOND)
    first, second = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        first_tx, second_tx = first.transaction(), second.transaction()
        await first_tx.start()
        state = await load_state(first, _touched(FIRST), IDS)
        assert prefix not in state.ranges, "no row yet: nothing a FOR UPDATE could lock"
        await second_tx.start()
        loading = asyncio.create_task(load_state(second, _touched(SECOND), IDS))
        await asyncio.sleep(0.5)
        assert not loading.done(), "the second worker must wait for the first's range"
        loaded = snapshot(state)
        state.ranges[prefix] = after_range_call((), FIRST, T0)
        await write_back(first, state, loaded, (), {})
        await first_tx.commit()

        other = await asyncio.wait_for(loading, 10)
        assert [n for n, _ in other.ranges[prefix]] == [FIRST]
        loaded = snapshot(other)
        other.ranges[prefix] = after_range_call(other.ranges[prefix], SECOND, T0 + timedelta(minutes=1))
        await write_back(second, other, loaded, (), {})
        await second_tx.commit()
        recent = await first.fetchval("SELECT recent FROM number_ranges WHERE prefix = $1", prefix)
        assert [n for n, _ in json.loads(recent)] == [FIRST, SECOND]
    finally:
        await first.close()
        await second.close()
