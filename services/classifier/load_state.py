"""Loads the batch's state: every row its events and actions can touch, locked (`FOR UPDATE`) in a fixed order."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from schemas.actions import (
    Action,
    CloseTask,
    EditContact,
    MarkNumber,
    MergeContacts,
    ReassignContact,
    ReassignTask,
    RecordConsent,
    RecordMeeting,
    SetNumberList,
    SetOutcome,
    UpsertManager,
)
from schemas.actions import SetPlan as SetPlanAction
from schemas.events import CallEvent, EmailEvent
from services.classifier.batch_state import Address, BatchState, Manager, Plan
from services.classifier.key_ids import Ids
from services.classifier.map_rows import (
    NUMBER_STATS,
    consent_from_row,
    contact_from_row,
    interaction_from_row,
    mark_from_row,
    meeting_from_row,
    number_stats_from_row,
    range_from_row,
    task_from_row,
)
from services.classifier.score_spam import NumberStats, Verdict, range_of
from services.classifier.thread_emails import interaction_id_for_key
from services.runtime.postgres import Connection


@dataclass(frozen=True, slots=True)
class Touched:
    """What one batch refers to: its interactions, the messages its emails refer to, its events and actions."""

    interaction_ids: set[uuid.UUID]
    email_refs: set[str]
    calls: Sequence[CallEvent]
    emails: Sequence[EmailEvent]
    actions: Sequence[Action]


async def load_state(conn: Connection, touched: Touched, ids: Ids) -> BatchState:
    state = BatchState()
    await _load_managers(conn, state)
    addresses = await _load_interactions(conn, state, touched)
    await _load_contacts(conn, state, addresses, touched, ids)
    # An email exchange is evidence for its contact's phone numbers (classify.vouch_for_phones): their
    # statistics are loaded too, or writing the new evidence back would reset the rest of them.
    await _load_numbers(conn, state, addresses | {a for a, row in state.addresses.items() if row.kind == "phone"})
    await _load_tasks(conn, state, addresses, touched.actions, ids)
    await _load_action_targets(conn, state, touched.actions)
    return state


async def _load_managers(conn: Connection, state: BatchState) -> None:
    for row in await conn.fetch("SELECT id, name, email, on_duty, active, team FROM managers"):
        state.managers[row["id"]] = Manager(
            row["id"], row["name"], row["email"], row["on_duty"], row["active"], team=row["team"]
        )
    for row in await conn.fetch("SELECT extension, manager_id FROM manager_extensions ORDER BY extension"):
        state.extensions[row["extension"]] = row["manager_id"]
        m = state.managers[row["manager_id"]]
        m.extensions = (*m.extensions, row["extension"])
    for row in await conn.fetch(
        "SELECT assignee_id, count(*) AS n FROM tasks WHERE status = 'open' AND assignee_id IS NOT NULL "
        "GROUP BY assignee_id"
    ):
        state.open_task_counts[row["assignee_id"]] = row["n"]


async def _load_interactions(conn: Connection, state: BatchState, touched: Touched) -> set[str]:
    """Locks and loads the interactions the batch touches; returns the addresses they (and actions) name."""
    acts = touched.actions
    ix_ids = set(touched.interaction_ids) | {interaction_id_for_key(ref) for ref in touched.email_refs}
    ix_ids |= {a.interaction_id for a in acts if isinstance(a, SetOutcome | MarkNumber) and a.interaction_id}
    ix_ids |= {a.interaction_id for a in acts if isinstance(a, RecordMeeting) and a.interaction_id}
    if merged := _duplicates(acts):  # a merge re-points every interaction of the duplicate
        rows = await conn.fetch("SELECT id FROM interactions WHERE contact_id = ANY($1::uuid[])", merged)
        ix_ids |= {r["id"] for r in rows}
    for row in await conn.fetch(
        "SELECT * FROM interactions WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE", sorted(ix_ids)
    ):
        ix = interaction_from_row(row)
        state.interactions[ix.id] = ix
    addresses: set[str] = {ix.counterpart for ix in state.interactions.values() if ix.counterpart}
    # A message's or call's counterpart is only on its row once classified; this batch's events carry it.
    addresses |= {e.counterpart.lower() for e in touched.emails if e.counterpart}
    addresses |= {e.counterpart.e164 for e in touched.calls if e.counterpart and e.counterpart.e164}
    for a in acts:
        if isinstance(a, MarkNumber | SetNumberList) and a.number:
            addresses.add(a.number)
        if isinstance(a, RecordMeeting):
            addresses |= {x for x in (a.meeting.phone, a.meeting.email and a.meeting.email.lower()) if x}
        if isinstance(a, EditContact):
            addresses |= {*a.add_phones, *a.remove_phones, *(e.lower() for e in (*a.add_emails, *a.remove_emails))}
    return addresses


def _duplicates(acts: Iterable[Action]) -> list[uuid.UUID]:
    return sorted({a.duplicate_id for a in acts if isinstance(a, MergeContacts)})


def _action_contacts(acts: Iterable[Action]) -> set[uuid.UUID]:
    """The contacts people's actions name."""
    out: set[uuid.UUID] = set()
    for a in acts:
        if isinstance(a, ReassignContact | RecordMeeting | EditContact | RecordConsent | MergeContacts):
            out.add(a.contact_id)
        if isinstance(a, MergeContacts):
            out.add(a.duplicate_id)
    return out


async def _load_contacts(conn: Connection, state: BatchState, addresses: set[str], touched: Touched, ids: Ids) -> None:
    """The contacts of the batch's addresses and actions, and every phone number of the contacts its emails are
    with (an email exchange vouches for them)."""
    acts = list(touched.actions)
    for row in await conn.fetch(
        """SELECT address, contact_id, kind, undeliverable FROM contact_addresses
           WHERE address = ANY($1::text[]) OR contact_id = ANY($2::uuid[])
              OR (kind = 'phone' AND contact_id IN
                  (SELECT contact_id FROM contact_addresses WHERE address = ANY($3::text[])))""",
        sorted(addresses),
        [*_duplicates(acts), *(a.contact_id for a in acts if isinstance(a, MergeContacts))],
        sorted({e.counterpart.lower() for e in touched.emails if e.counterpart}),
    ):
        state.addresses[row["address"]] = Address(row["address"], row["contact_id"], row["kind"], row["undeliverable"])
    contact_ids = {a.contact_id for a in state.addresses.values()} | {ids.contact(a) for a in addresses}
    contact_ids |= {ix.contact_id for ix in state.interactions.values() if ix.contact_id}
    contact_ids |= _action_contacts(acts)
    for row in await conn.fetch(
        """SELECT id, owner_id, first_name, last_name, created_automatically, is_lead, merged_into, occurred_at,
                  version
           FROM contacts WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE""",
        sorted(contact_ids),
    ):
        state.contacts[row["id"]] = contact_from_row(row)


async def _load_numbers(conn: Connection, state: BatchState, addresses: set[str]) -> None:
    """Number statistics, marks and ranges, read under an advisory lock per number and per range. Rows that do not
    exist yet cannot be locked `FOR UPDATE`, and a range is shared by numbers other workers handle (calls are
    partitioned by number): without the lock two batches would both start from no row and the later write would
    drop the earlier one's numbers or counts."""
    # Email addresses are never in these tables; asking for them too costs less than telling them apart.
    wanted = sorted(addresses)
    prefixes = sorted({p for a in wanted if (p := range_of(a))})
    await conn.execute(
        "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k",
        number_lock_keys([a for a in wanted if a.startswith("+")], prefixes),
    )
    verdicts: dict[str, dict[str, Verdict]] = {}
    for row in await conn.fetch(
        "SELECT address, manager_id, verdict, marked_at FROM number_marks WHERE address = ANY($1::text[])", wanted
    ):
        mark = mark_from_row(row)
        state.marks[(mark.address, mark.manager_id)] = mark
        verdicts.setdefault(mark.address, {})[mark.manager_id] = mark.verdict
    for row in await conn.fetch(
        f"SELECT {', '.join(NUMBER_STATS.names)} FROM number_stats WHERE address = ANY($1::text[])",  # noqa: S608 - fixed columns
        wanted,
    ):
        state.numbers[row["address"]] = number_stats_from_row(row, verdicts.pop(row["address"], {}))
    for address, marks in verdicts.items():
        state.numbers[address] = NumberStats(marks=marks)
    for row in await conn.fetch("SELECT prefix, recent FROM number_ranges WHERE prefix = ANY($1::text[])", prefixes):
        state.ranges[row["prefix"]] = range_from_row(row)


def number_lock_keys(numbers: Iterable[str], prefixes: Iterable[str]) -> list[int]:
    """The advisory lock keys of numbers and ranges, sorted: every batch takes them in the same order, so two
    batches never wait on each other's."""
    keys = {_lock_key(f"number:{n}") for n in numbers} | {_lock_key(f"range:{p}") for p in prefixes}
    return sorted(keys)


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8, person=b"tp-numbers").digest(), signed=True)


async def _load_tasks(
    conn: Connection, state: BatchState, addresses: set[str], acts: Iterable[Action], ids: Ids
) -> None:
    threads = {ix.thread_id for ix in state.interactions.values() if ix.thread_id}
    keys = [f"contact:{c}" for c in state.contacts] + [f"address:{a}" for a in addresses]
    keys += [f"contact:{ids.contact(a)}" for a in addresses] + [f"thread:{t}" for t in threads]
    acts = list(acts)
    task_ids = [a.task_id for a in acts if isinstance(a, CloseTask | ReassignTask)]
    action_ix = [a.interaction_id for a in acts if isinstance(a, SetOutcome | MarkNumber) and a.interaction_id]
    leaving = sorted({a.manager_id for a in acts if isinstance(a, UpsertManager) and not a.active})
    for row in await conn.fetch(
        """SELECT * FROM tasks
           WHERE (status = 'open' AND dedupe_key = ANY($1::text[]))
              OR (status = 'open' AND contact_id = ANY($2::uuid[]))
              OR (status = 'open' AND interaction_id = ANY($3::uuid[]))
              OR id = ANY($4::uuid[])
              OR contact_id = ANY($5::uuid[])
              OR (status = 'open' AND assignee_id = ANY($6::text[]))
           ORDER BY id FOR UPDATE""",
        sorted(set(keys)),
        sorted(state.contacts),
        sorted(action_ix),
        sorted(task_ids),
        _duplicates(acts),
        leaving,
    ):
        state.load_task(task_from_row(row))


async def _load_action_targets(conn: Connection, state: BatchState, acts: Iterable[Action]) -> None:
    acts = list(acts)
    meeting_ids = [a.meeting_id for a in acts if isinstance(a, RecordMeeting)]
    for row in await conn.fetch(
        "SELECT * FROM meetings WHERE id = ANY($1::uuid[]) OR contact_id = ANY($2::uuid[])",
        meeting_ids,
        _duplicates(acts),
    ):
        meeting = meeting_from_row(row)
        state.meetings[meeting.id] = meeting
    consent_contacts = sorted(
        {a.contact_id for a in acts if isinstance(a, RecordConsent | MergeContacts)} | set(_duplicates(acts))
    )
    for row in await conn.fetch(
        "SELECT * FROM contact_consents WHERE contact_id = ANY($1::uuid[]) ORDER BY contact_id, channel FOR UPDATE",
        consent_contacts,
    ):
        consent = consent_from_row(row)
        state.consents[(consent.contact_id, consent.channel)] = consent
    plan_keys = [(a.manager_id, a.metric, a.period) for a in acts if isinstance(a, SetPlanAction)]
    for row in await conn.fetch(
        """SELECT manager_id, metric, period, target FROM plans
           WHERE (manager_id, metric, period) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))""",
        [k[0] for k in plan_keys],
        [k[1] for k in plan_keys],
        [k[2] for k in plan_keys],
    ):
        state.plans[(row["manager_id"], row["metric"], row["period"])] = Plan(
            row["manager_id"], row["metric"], row["period"], row["target"]
        )
