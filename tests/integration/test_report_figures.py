"""A simulated month played into the real classifier (Store.apply_batch on PostgreSQL), its outbox relayed to the
real broker: every figure is recomputed from the raw tables with independent SQL and compared with what figures.py
answers (per day and for the month) and with the latest record per key on each report topic, read with kcat (not
aiokafka)."""

from __future__ import annotations

import itertools
import json
import random
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from bench.simulator import DayShape
from bench.simulator.evaluate_flags import events_of, known_office
from bench.simulator.generate import generate_days
from bench.simulator.model import OfficeDay, SimCall
from schemas.actions import CloseDeal, MeetingData, OpenDeal, ReassignContact, RecordMeeting, SetOutcome, UpsertManager
from schemas.topics import REPORTS_CALLBACK_SLA, REPORTS_MANAGER_DAILY, REPORTS_TEAM_DAILY
from services.classifier.apply_deals import _DEAL_IDS
from services.classifier.correlate import interaction_id
from services.classifier.decode import Consumed
from services.classifier.key_ids import UNKEYED_FOR_TESTS as IDS
from services.classifier.policy import Policy
from services.classifier.relay_outbox import OutboxRelay, RelayLimits
from services.classifier.store import Store
from services.ingest.email.mime import Envelope, event_from_mime
from services.reporting.figures import CURRENT, manager_figures
from services.runtime.kafka import DurableProducer, ProducerLimits
from services.runtime.postgres import Connection, create_pool
from services.runtime.settings import DatabaseSettings, KafkaSettings
from tests.integration.classifier_feed import DirectFeed, apply_in_batches
from tests.integration.current_state import raw_current
from tests.integration.report_topics import latest_per_key

pytestmark = pytest.mark.integration

FIRST = date(2026, 11, 1)
DAYS = 30
SHAPE = DayShape(
    managers=4,
    contacts_per_manager=12,
    client_calls_per_manager=6,
    spam_callers=1,
    wrong_numbers_per_manager=0.5,
    email_threads_per_manager=2,
    outbound_emails_per_manager=1,
)
TEAMS = ("east", "west")
CHECKED = (
    "calls_in",
    "calls_out",
    "calls_answered",
    "calls_missed",
    "calls_abandoned",
    "wrong_number_share",
    "callbacks_due",
    "callbacks_within_sla",
    "callback_median_s",
    "callback_p90_s",
    "callback_sla_share",
    "emails_in",
    "emails_answered",
    "reply_median_s",
    "meetings",
    "meetings_complete",
    "contacts_new",
    "data_completeness",
    "deals_opened",
    "deals_won",
    "deals_lost",
    "deals_won_amount",
)


def _month(days: Sequence[OfficeDay], policy: Policy) -> list[tuple[datetime, Consumed]]:
    """The month's call and mail events and people's actions (outcomes, deals, meetings, a reassignment), timed."""
    rng = random.Random(7)
    office = days[0].office
    ids = iter(f"act-{n}" for n in itertools.count())
    start = datetime.combine(FIRST, datetime.min.time(), UTC) - timedelta(days=1)
    out: list[tuple[datetime, Consumed]] = [
        (start, UpsertManager(event_id=f"seed-{m.id}", actor_id="admin", occurred_at=start, manager_id=m.id,
                              name=m.name, email=m.email, extensions=(m.extension,), on_duty=True, team=TEAMS[n % 2]))
        for n, m in enumerate(office.managers)
    ]  # fmt: skip
    for day in days:
        for call in day.calls:
            out += [(e.received_at, e) for e in events_of(call)]
            out += _people_after(call, rng, ids)
        for mail in day.emails:
            envelope = Envelope(mail.envelope_from, mail.envelope_to)
            at = mail.at + timedelta(seconds=2)
            event = event_from_mime("smtp", mail.message.as_bytes(), envelope, received_at=at,
                                    domains=[office.mail_domain])  # fmt: skip
            out.append((event.received_at, event))
    middle = datetime.combine(FIRST + timedelta(days=12), datetime.min.time(), UTC)
    moved = office.contacts[0]
    other = next(m.id for m in office.managers if m.id != moved.owner)
    out.append((middle, ReassignContact(event_id=next(ids), actor_id="admin", occurred_at=middle,
                                        contact_id=IDS.contact(moved.phone), manager_id=other)))  # fmt: skip
    for c in office.contacts[1:4]:  # opened by hand, one left open
        deal = uuid.uuid4()
        out.append((middle, OpenDeal(event_id=next(ids), actor_id=c.owner, occurred_at=middle, deal_id=deal,
                                     contact_id=IDS.contact(c.phone))))  # fmt: skip
        if c is not office.contacts[3]:
            at = middle + timedelta(days=3)
            out.append((at, CloseDeal(event_id=next(ids), actor_id=c.owner, occurred_at=at, deal_id=deal,
                                      result="won", amount=Decimal("250.00"))))  # fmt: skip
    assert policy.hours.zone.key == office.timezone
    return sorted(out, key=lambda pair: pair[0])


def _people_after(call: SimCall, rng: random.Random, ids: Iterator[str]) -> list[tuple[datetime, Consumed]]:
    """What the manager does after an answered call: an outcome; a client taken into work gets a deal closed won or
    lost days later, and maybe a meeting."""
    if call.status != "answered" or call.manager_id is None or call.direction == "internal":
        return []
    iid, at, who = interaction_id("generic", call.call_id), call.ended_at + timedelta(minutes=3), call.manager_id
    roll = rng.random()
    if call.caller == "wrong_number" and roll < 0.6:
        outcome = "wrong_number"
    elif call.contact_id is not None and call.counterpart is not None and roll < 0.35:
        outcome = "taken_into_work"
    elif roll < 0.7:
        outcome = "connected"
    else:
        return []
    eid = next(ids)
    out: list[tuple[datetime, Consumed]] = [
        (at, SetOutcome(event_id=eid, actor_id=who, occurred_at=at, interaction_id=iid, outcome=outcome))
    ]
    if outcome != "taken_into_work" or call.counterpart is None:
        return out
    later = at + timedelta(days=rng.randint(0, 6), hours=rng.randint(1, 5))
    won = rng.random() < 0.6
    amount = Decimal(rng.randint(100, 90_000)) / 100 if won and rng.random() < 0.8 else None
    out.append((later, CloseDeal(event_id=next(ids), actor_id=who, occurred_at=later, result="won" if won else "lost",
                                 deal_id=uuid.uuid5(_DEAL_IDS, eid), amount=amount)))  # fmt: skip
    if rng.random() < 0.5:
        data = MeetingData(date=later.date(), last_name="Client", first_name="A", phone=call.counterpart,
                           topic="demo", result="interested")  # fmt: skip
        meeting = RecordMeeting(event_id=next(ids), actor_id=who, occurred_at=later, meeting_id=uuid.uuid4(),
                                contact_id=IDS.contact(call.counterpart), meeting=data)  # fmt: skip
        out.append((later, meeting))
    return out


async def _seed_base(pool: asyncpg.Pool, day: OfficeDay) -> None:
    """The client base the CRM held before the month (imported, not created by the classifier)."""
    async with pool.acquire() as conn:
        for c in day.office.contacts:
            cid = IDS.contact(c.phone)
            first, last = c.name.split(" ", 1)
            await conn.execute(
                "INSERT INTO contacts (id, owner_id, first_name, last_name, created_automatically) "
                "VALUES ($1, $2, $3, $4, false)",
                cid, c.owner, first, last,
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO contact_addresses (address, contact_id, kind) VALUES ($1, $2, 'phone'), ($3, $2, 'email')",
                c.phone, cid, c.email.lower(),
            )  # fmt: skip


# The figures recomputed from the raw tables, written apart from the classifier's (services/classifier/
# count_figures.py): grouped by manager and local day (or over the whole range), not one key at a time.
_EXPECTED = """
WITH span AS (SELECT ($2::date::timestamp AT TIME ZONE $1) AS t0, ($3::date::timestamp AT TIME ZONE $1) AS t1),
calls AS (
    SELECT WHO(manager_id) AS m,
           CASE WHEN $4 THEN $2 ELSE (coalesce(ended_at, started_at) AT TIME ZONE $1)::date END AS d,
           sum(CASE WHEN kind = 'call' AND direction = 'inbound' THEN 1 ELSE 0 END) AS calls_in,
           sum(CASE WHEN kind = 'call' AND direction = 'outbound' THEN 1 ELSE 0 END) AS calls_out,
           sum(CASE WHEN kind = 'call' AND direction = 'inbound' AND auto_status = 'answered' THEN 1 ELSE 0 END)
               AS calls_answered,
           sum(CASE WHEN kind = 'call' AND direction = 'inbound' AND auto_status = 'missed' THEN 1 ELSE 0 END)
               AS calls_missed,
           sum(CASE WHEN kind = 'call' AND direction = 'inbound' AND auto_status = 'abandoned' THEN 1 ELSE 0 END)
               AS calls_abandoned,
           sum(CASE WHEN kind = 'call' AND (outcome = 'wrong_number' OR (flag_kind = 'wrong_number'
                    AND flag <> 'cleared')) THEN 1 ELSE 0 END) AS calls_wrong,
           sum(CASE WHEN kind = 'email' AND direction = 'inbound' AND auto_status = 'received' THEN 1 ELSE 0 END)
               AS emails_in
    FROM interactions, span
    WHERE manager_id IS NOT NULL AND internal IS FALSE AND (kind = 'email' OR phase = 'ended')
      AND coalesce(ended_at, started_at) >= t0 AND coalesce(ended_at, started_at) < t1
    GROUP BY 1, 2),
callbacks AS (
    SELECT WHO(assignee_id) AS m, CASE WHEN $4 THEN $2 ELSE (created_at AT TIME ZONE $1)::date END AS d,
           count(*) AS callbacks_due,
           count(*) FILTER (WHERE status = 'done' AND closed_at <= due_at) AS callbacks_within_sla,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY response_s) FILTER (WHERE status = 'done')
               AS callback_median_s,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY response_s) FILTER (WHERE status = 'done') AS callback_p90_s
    FROM tasks, span
    WHERE kind = 'callback' AND status IN ('open', 'done') AND assignee_id IS NOT NULL
      AND created_at >= t0 AND created_at < t1
    GROUP BY 1, 2),
replies AS (
    SELECT WHO(assignee_id) AS m, CASE WHEN $4 THEN $2 ELSE (created_at AT TIME ZONE $1)::date END AS d,
           count(*) AS emails_answered, percentile_cont(0.5) WITHIN GROUP (ORDER BY response_s) AS reply_median_s
    FROM tasks, span
    WHERE kind = 'reply' AND status = 'done' AND closed_by_interaction_id IS NOT NULL AND assignee_id IS NOT NULL
      AND created_at >= t0 AND created_at < t1
    GROUP BY 1, 2),
met AS (
    SELECT WHO(manager_id) AS m, CASE WHEN $4 THEN $2 ELSE meeting_date END AS d, count(*) AS meetings,
           count(*) FILTER (WHERE (phone IS NOT NULL OR email IS NOT NULL) AND length(trim(first_name)) > 0
                              AND length(trim(last_name)) > 0 AND length(trim(topic)) > 0
                              AND length(trim(result)) > 0) AS meetings_complete
    FROM meetings WHERE meeting_date >= $2 AND meeting_date < $3 GROUP BY 1, 2),
born AS (  -- a contact the classifier created is new on the day of its first call or mail, not when stored
    SELECT c.*, CASE WHEN c.created_automatically
                     THEN (SELECT min(coalesce(i.ended_at, i.started_at)) FROM interactions i WHERE i.contact_id = c.id)
                     ELSE c.created_at END AS born_at
    FROM contacts c),
new_contacts AS (
    SELECT WHO(owner_id) AS m, CASE WHEN $4 THEN $2 ELSE (born_at AT TIME ZONE $1)::date END AS d,
           count(*) AS contacts_new,
           count(*) FILTER (WHERE first_name IS NOT NULL AND last_name IS NOT NULL
                              AND id IN (SELECT contact_id FROM contact_addresses)) AS contacts_complete
    FROM born, span
    WHERE owner_id IS NOT NULL AND merged_into IS NULL AND born_at >= t0 AND born_at < t1
    GROUP BY 1, 2),
opened AS (
    SELECT WHO(manager_id) AS m, CASE WHEN $4 THEN $2 ELSE (opened_at AT TIME ZONE $1)::date END AS d,
           count(*) AS deals_opened
    FROM deals, span WHERE opened_at >= t0 AND opened_at < t1 GROUP BY 1, 2),
closed AS (
    SELECT WHO(manager_id) AS m, CASE WHEN $4 THEN $2 ELSE (closed_at AT TIME ZONE $1)::date END AS d,
           count(*) FILTER (WHERE status = 'won') AS deals_won, count(*) FILTER (WHERE status = 'lost') AS deals_lost,
           sum(amount) FILTER (WHERE status = 'won') AS deals_won_amount
    FROM deals, span WHERE closed_at >= t0 AND closed_at < t1 GROUP BY 1, 2)
SELECT 'calls' AS part, to_jsonb(calls) AS row FROM calls
UNION ALL SELECT 'callbacks', to_jsonb(callbacks) FROM callbacks
UNION ALL SELECT 'replies', to_jsonb(replies) FROM replies
UNION ALL SELECT 'met', to_jsonb(met) FROM met
UNION ALL SELECT 'new_contacts', to_jsonb(new_contacts) FROM new_contacts
UNION ALL SELECT 'opened', to_jsonb(opened) FROM opened
UNION ALL SELECT 'closed', to_jsonb(closed) FROM closed
"""


async def expected(
    conn: Connection, tz: str, start: date, end: date, *, whole: bool, by_team: bool = False
) -> dict[tuple[str, str], dict[str, Any]]:
    """(manager, day) → every checked figure, from the raw tables; `whole`: one key per manager for the range;
    `by_team`: (team, day), the team's rows pooled (medians over all its times, recomputed, never averaged)."""
    who = r"(SELECT team FROM managers WHERE id = \1)" if by_team else r"\1"
    sql = re.sub(r"WHO\((\w+)\)", who, _EXPECTED)
    raw: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in await conn.fetch(sql, tz, start, end, whole):
        row = json.loads(rec["row"])
        raw.setdefault((row.pop("m"), row.pop("d")), {}).update(row)
    out = {}
    for key, r in raw.items():
        calls = (r.get("calls_in") or 0) + (r.get("calls_out") or 0)
        due, new = r.get("callbacks_due") or 0, r.get("contacts_new") or 0
        out[key] = {name: r.get(name) or 0 for name in CHECKED} | {
            "wrong_number_share": (r.get("calls_wrong") or 0) / calls if calls else None,
            "callback_sla_share": (r.get("callbacks_within_sla") or 0) / due if due else None,
            "data_completeness": (r.get("contacts_complete") or 0) / new if new else None,
            "callback_median_s": r.get("callback_median_s"),
            "callback_p90_s": r.get("callback_p90_s"),
            "reply_median_s": r.get("reply_median_s"),
            "deals_won_amount": float(r.get("deals_won_amount") or 0),
        }
    return out


def _same(got: Mapping[str, Any], want: Mapping[str, Any], where: str) -> None:
    for name in CHECKED:
        g, w = got[name], want[name]
        if w is None:
            assert g is None, f"{where} {name}: {g} where nothing was counted"
        else:
            assert g is not None and float(g) == pytest.approx(float(w)), f"{where} {name}: {g} != {w}"


def _zero(figures: Mapping[str, Any]) -> bool:
    return all(not figures[name] for name in CHECKED)


async def relay_all(pool: asyncpg.Pool, kafka: KafkaSettings) -> None:
    producer = DurableProducer(kafka, ProducerLimits(), client_id="test-figures-relay")
    await producer.start()
    try:
        relay = OutboxRelay(pool, producer, RelayLimits(batch=500), kafka.topics)
        async with pool.acquire() as conn:
            while await relay.publish_once(conn):
                pass
    finally:
        await producer.stop()


async def _check_current(pool: asyncpg.Pool, tz: str) -> None:
    """The current state (kept by the batches' changes) as figures.py answers it equals a count of the raw tables,
    at times when some tasks are overdue and some not."""
    want_now: dict[str, dict[str, Any]] = {}
    for now in (FIRST + timedelta(days=DAYS // 2), FIRST + timedelta(days=DAYS - 1), date(2027, 1, 1)):
        at = datetime.combine(now, datetime.min.time(), UTC) + timedelta(hours=15)
        async with pool.acquire() as conn:
            want_now = await raw_current(conn, at)
        for found in await manager_figures(pool, None, FIRST, FIRST + timedelta(days=DAYS), tz, now=at):
            got = {name: found["figures"][name]["value"] for name in CURRENT}
            want = want_now.get(found["manager_id"], {"tasks_open": 0, "tasks_overdue": 0, "backlog": 0,
                                                      "backlog_oldest_s": None})  # fmt: skip
            assert got == pytest.approx(want), f"figures.py {found['manager_id']} at {at}: current state"
    assert any(w["tasks_overdue"] for w in want_now.values()) and any(w["backlog"] for w in want_now.values())


@pytest.mark.timeout(900)
async def test_every_figure_of_a_simulated_month_equals_its_recomputation_on_pages_and_topics(
    database_url: str, kafka: KafkaSettings
) -> None:
    assert shutil.which("kcat"), "kcat (Debian package kcat) reads the topics: `make test` installs it"
    days = generate_days(seed=11, first=FIRST, days=DAYS, shape=SHAPE)
    _, policy = known_office(days[0])
    tz = policy.hours.zone.key
    feed = DirectFeed()
    feed.add(*(event for _, event in _month(days, policy)))
    pool = await create_pool(DatabaseSettings(DATABASE_URL=database_url))
    try:
        await _seed_base(pool, days[0])
        store = Store(pool, "figures", kafka.topics, policy, clock=lambda: datetime.now(UTC))
        await apply_in_batches(store, feed.records, range(0, len(feed.records), 300))
        await relay_all(pool, kafka)
        async with pool.acquire() as conn:
            per_day = await expected(conn, tz, FIRST - timedelta(days=1), date(2027, 1, 1), whole=False)
            month = await expected(conn, tz, FIRST, FIRST + timedelta(days=DAYS), whole=True)
        totals = {name: sum(f[name] or 0 for f in per_day.values()) for name in CHECKED}
        for name in ("calls_missed", "callbacks_within_sla", "emails_answered", "meetings", "deals_won",
                     "deals_lost", "deals_won_amount", "contacts_new"):  # fmt: skip
            assert totals[name] > 0, f"the month exercises {name}"
        assert any(f["callback_median_s"] is not None for f in per_day.values())

        # figures.py, per day and for the month
        for day in sorted({date.fromisoformat(d) for _, d in per_day}):
            for found in await manager_figures(pool, None, day, day + timedelta(days=1), tz):
                got = {name: f["value"] for name, f in found["figures"].items()}
                want = per_day.get((found["manager_id"], day.isoformat()))
                if want is None:
                    assert _zero(got), f"{found['manager_id']} {day}: figures where nothing happened"
                else:
                    _same(got, want, f"figures.py {found['manager_id']} {day}")
        for found in await manager_figures(pool, None, FIRST, FIRST + timedelta(days=DAYS), tz):
            got = {name: f["value"] for name, f in found["figures"].items()}
            _same(got, month[(found["manager_id"], FIRST.isoformat())], f"figures.py {found['manager_id']} month")

        await _check_current(pool, tz)

        # the topics: the latest record per key
        bootstrap = kafka.bootstrap_servers
        daily = await latest_per_key(bootstrap, kafka.topics(REPORTS_MANAGER_DAILY))
        assert {k for k, r in daily.items() if not _zero(r)} == {f"{m}|{d}" for m, d in per_day}
        for (m, d), want in per_day.items():
            record = daily[f"{m}|{d}"]
            assert record["schema"] == "touchpoint.reports.manager-daily/1"
            _same(record, want, f"manager-daily {m}|{d}")
        sla = await latest_per_key(bootstrap, kafka.topics(REPORTS_CALLBACK_SLA))
        for (m, d), want in per_day.items():
            if want["callbacks_due"]:
                record = sla[f"{m}|{d}"]
                assert (record["callbacks_due"], record["callbacks_within_sla"]) == (
                    want["callbacks_due"], want["callbacks_within_sla"])  # fmt: skip
                assert record["callback_median_s"] == pytest.approx(want["callback_median_s"])
                assert record["sla_minutes"] == policy.callback_sla_minutes
        team_daily = await latest_per_key(bootstrap, kafka.topics(REPORTS_TEAM_DAILY))
        async with pool.acquire() as conn:
            by_team = await expected(conn, tz, FIRST - timedelta(days=1), date(2027, 1, 1), whole=False, by_team=True)
        assert {k for k, r in team_daily.items() if not _zero(r)} == {f"{t}|{d}" for t, d in by_team}
        for (t, d), want in by_team.items():
            _same(team_daily[f"{t}|{d}"], want, f"team-daily {t}|{d}")
    finally:
        await pool.close()
