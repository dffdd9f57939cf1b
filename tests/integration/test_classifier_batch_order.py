"""Where the stream is cut into batches changes nothing: the same calls, emails and actions applied through the real
Store on PostgreSQL as one batch or cut at random points end in the same domain state."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Coroutine
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.actions import (
    CloseTask,
    MarkNumber,
    MeetingData,
    ReassignContact,
    RecordMeeting,
    SetNumberList,
    SetOutcome,
    SetPlan,
    UpsertManager,
)
from schemas.topics import TopicNames
from services.classifier.correlate import interaction_id
from services.classifier.key_ids import UNKEYED_FOR_TESTS as IDS
from services.classifier.store import Store
from services.classifier.thread_emails import email_interaction_id
from tests.integration.classifier_feed import DirectFeed, action_fields, apply_in_batches, domain_rows, reset_domain
from tests.unit.classifier.factories import POLICY, T0, answered, call_event, email, missed

pytestmark = pytest.mark.integration

act = functools.partial(action_fields, t0=T0)

T = TypeVar("T")
OTHER = "+14155550124"
SPAM = "+14155550125"
CLOCK = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)


def _manager(n: int, manager_id: str, extension: str) -> UpsertManager:
    return UpsertManager(
        **act(n, -60, "admin"),
        manager_id=manager_id,
        name=manager_id.title(),
        email=f"{manager_id}@example.com",
        extensions=(extension,),
        on_duty=True,
    )


def office_stream() -> DirectFeed:
    """Managers, missed calls and callbacks, leads, a flagged call cleared, an email thread with an auto-reply and
    a bounce, and people's actions on all of them, interleaved; some records twice."""
    feed = DirectFeed()
    c1 = missed("c1", agent="101")
    c2 = answered("c2", agent="102", counterpart=OTHER, t0=T0 + timedelta(seconds=5))
    c3 = missed("c3", agent="102", t0=T0 + timedelta(minutes=5))
    c4 = answered("c4", talk=3, agent="101", counterpart=SPAM, t0=T0 + timedelta(minutes=6))
    c5 = answered("c5", agent="101", t0=T0 + timedelta(minutes=20))
    c6 = [call_event("c6", "ringing", 0, agent="102", t0=T0 + timedelta(minutes=30))]
    q1 = email("q1@client.test", minutes=2)
    a1 = email("a1@example.com", direction="outbound", in_reply_to="q1@client.test", references=("q1@client.test",))
    a1 = a1.model_copy(update={"sent_at": T0 + timedelta(minutes=9), "received_at": T0 + timedelta(minutes=9)})
    ooo = email("ooo@client.test", is_auto_reply=True, auto_submitted="auto-replied", in_reply_to="a1@example.com")
    dsn = email("dsn@mx.client.test", is_bounce=True, counterpart="jane@client.test", in_reply_to="a1@example.com")
    jane = IDS.contact("jane@client.test")
    other = IDS.contact(OTHER)
    feed.add(
        _manager(1, "ann", "101"),
        _manager(2, "bob", "102"),
        c1[0], c2[0], c1[1], c2[1], c2[2], q1, c1[2], c2[3],
        MarkNumber(**act(3, 1), interaction_id=interaction_id("generic", "c1"), verdict="wrong"),
        *c3[:2], q1, c4[0], c4[1],
        SetOutcome(**act(4, 2, "bob"), interaction_id=interaction_id("generic", "c2"), outcome="connected"),
        c3[2], *c4[2:], a1,
        MarkNumber(**act(5, 8, "bob"), interaction_id=interaction_id("generic", "c4"), verdict="legit"),
        RecordMeeting(
            **act(6, 9, "bob"),
            meeting_id=uuid.UUID(int=1),
            contact_id=other,
            meeting=MeetingData(date=date(2026, 11, 27), last_name="Doe", first_name="John", phone=OTHER,
                                topic="demo", result="interested"),
        ),
        ReassignContact(**act(7, 10), contact_id=other, manager_id="ann"),
        ooo, dsn, *c5[:2], SetNumberList(**act(8, 11), number=SPAM, list="block"), *c5[2:],
        SetPlan(**act(9, 12), manager_id="ann", metric="contacts", period="2026-11", target=5),
        CloseTask(
            **act(10, 13),
            task_id=IDS.task("fill_contact_data", email_interaction_id(q1), f"contact:{jane}"),
            resolution="done",
        ),
        c1[2], SetPlan(**act(9, 12), manager_id="ann", metric="contacts", period="2026-11", target=5),
        UpsertManager(**act(11, 14, "admin"), manager_id="cid", name="Cid", extensions=("101",)),
        *c6,
    )  # fmt: skip
    return feed


def _runner(loop: asyncio.AbstractEventLoop) -> Any:
    def run(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    return run


async def test_any_cut_into_batches_gives_the_state_of_one_batch(database_url: str) -> None:
    records = office_stream().records
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    try:
        store = Store(pool, "order", TopicNames("order"), POLICY, clock=lambda: CLOCK)
        async with pool.acquire() as conn:
            await apply_in_batches(store, records)
            whole = await domain_rows(conn)
        assert len(whole["tasks"]) >= 4 and whole["audit_log"], "the stream exercises tasks and actions"
        assert whole["manager_current"], "and leaves open work: the kept current state is compared too"
        run = _runner(asyncio.get_running_loop())

        @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(st.sets(st.integers(1, len(records) - 1), min_size=1, max_size=8))
        def cut_anywhere(cuts: set[int]) -> None:
            async def once() -> dict[str, Any]:
                async with pool.acquire() as conn:
                    await reset_domain(conn)
                    await apply_in_batches(store, records, cuts)
                    return await domain_rows(conn)

            state = run(once())
            for table, rows in whole.items():
                assert state[table] == rows, f"{table} differs when cut at {sorted(cuts)}"

        await asyncio.to_thread(cut_anywhere)
    finally:
        await pool.close()
