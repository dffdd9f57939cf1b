"""Generating office days (pure, deterministic for a seed), played forward in time, each call and email labelled as
it happens: who called, which callback task a client's miss needs and which conversation answers it."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bench.simulator.emails import generate_emails
from bench.simulator.model import (
    TASK_STATUSES,
    Caller,
    CallKind,
    CallStatus,
    CallStep,
    Contact,
    Direction,
    Manager,
    Office,
    OfficeDay,
    SimCall,
    callback_tasks,
)

FIRST_NAMES = (
    "Anna", "Boris", "Carla", "Dmitri", "Elena", "Farid", "Grace", "Hugo", "Irina", "Jonas", "Kate", "Leo",
    "Maria", "Nikolai", "Olga", "Pavel", "Quinn", "Rosa", "Sergei", "Tanya", "Umar", "Vera", "Walter", "Xenia",
    "Yusuf", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Adams", "Baker", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ivanova", "Jensen", "Kowalski",
    "Larsen", "Morozov", "Novak", "Olsen", "Petrov", "Quintero", "Rossi", "Smirnova", "Tanaka", "Ueda", "Volkova",
    "Weber", "Xu", "Young", "Zhou",
)  # fmt: skip
VOICEMAIL_AGENT = "vm"  # the extension a PBX reports when its voicemail takes a call
US_AREA_CODES = ("212", "213", "305", "312", "415", "503", "512", "617", "646", "702", "718", "206", "303", "404")
CLIENT_DOMAINS = ("acme.test", "globex.test", "initech.test", "umbrella.test", "hooli.test", "stark.test")


@dataclass(frozen=True, slots=True)
class DayShape:
    """How big and how busy the office is, and who calls it. The defaults are a small sales team on an ordinary
    day; the unit evaluation uses a busier mix (`EVALUATION_SHAPE`). Each behaviour is one parameter, so a more
    realistic office (unfilled leads, PBXs that send only final events) is added the same way."""

    managers: int = 6
    contacts_per_manager: int = 40
    client_calls_per_manager: int = 24  # inbound + outbound with known clients, before follow-ups
    inbound_share: float = 0.5
    short_client_call_share: float = 0.0  # answered client calls of 3-9 s ("I'll call you back")
    # A first-time caller's call that ends within 3-9 s, indistinguishable from a wrong number on that call alone;
    # None: the same share as the clients' short calls (the former simulator's assumption).
    short_new_lead_share: float | None = None
    new_leads_per_manager: float = 1.0
    unknown_missed_per_manager: float = 0.5
    wrong_numbers_per_manager: float = 1.0
    wrong_number_missed_share: float = 0.0  # wrong-number calls nobody answered (0: such calls are not generated)
    long_wrong_number_share: float = 0.0  # answered wrong numbers that take 10-15 s to sort out, not 2-9 s
    # Numbers that misdial us again and again (one digit off a popular one), the same every day of a seed, and the
    # share of wrong-number calls that come from them rather than from a new number.
    wrong_number_pool: int = 0
    wrong_number_repeat_share: float = 0.0
    spam_callers: int = 2  # robocaller numbers, the same every day of a seed; each calls every day
    spam_calls_per_caller: tuple[int, int] = (3, 6)  # a different manager each time
    one_ring_spam_share: float = 0.0  # unanswered spam calls that hang up after a ring or two
    telemarketer_share: float = 0.0  # answered spam calls that talk 8-45 s, not 1-6 s
    # The office the product is for (issue 11); each 0 by default, so a shape that leaves them gives the same day.
    unfilled_lead_share: float = 0.0  # new leads the manager never fills in (the rest get a name after the call)
    lead_return_share: float = 0.0  # each day, the chance that each earlier new lead calls or is called again
    final_only_share: float = 0.0  # calls whose PBX sends only the final event (duration and talk time on it)
    voicemail_answered_share: float = 0.0  # voicemail greetings (ours inbound, theirs outbound) reported answered
    redial_share: float = 0.0  # a client whose call was missed redials within 1-3 minutes
    sequential_runs: int = 0  # per day, runs of 3-6 consecutive numbers calling within 20 minutes (spam)
    withheld_spam_share: float = 0.0  # robocaller calls that withhold their id
    internal_per_manager: float = 2.0
    email_threads_per_manager: int = 4
    outbound_emails_per_manager: int = 3
    bulk_per_manager: int = 1
    undeliverable_share: float = 0.05
    timezone: str = "America/Los_Angeles"
    opens: time = time(9, 0)
    closes: time = time(18, 0)
    main_number: str = "+14155550100"
    outbound_number: str = "+14155550101"
    mail_domain: str = "example.com"


@dataclass(order=True)
class _Intent:
    at: datetime
    seq: int
    what: str = field(compare=False)
    args: dict[str, Any] = field(compare=False, default_factory=dict)


class _DayBuilder:
    def __init__(
        self,
        seed: int,
        office: Office,
        shape: DayShape,
        rng: random.Random,
        start: datetime,
        end: datetime,
        waiting: dict[str, str],
        leads: dict[str, str],
    ) -> None:
        self.seed = seed
        self.shape = shape
        self.office = office
        self.rng = rng
        self.start = start
        self.end = end
        self.tz = ZoneInfo(office.timezone)
        self.busy_until: dict[str, datetime] = {m.id: start for m in office.managers}
        self.calls: list[SimCall] = []
        self.queue: list[_Intent] = []
        self.counter = itertools.count()
        self.call_counter = itertools.count(1)
        self.pending_followup: set[str] = set()  # counterparts with a follow-up already planned
        # The generator's own memory of the day, from which the labels come: which client is on a call with us
        # until when (a person is on one call at a time), and which client still waits for a conversation.
        self.line_busy_until: dict[str, datetime] = {}
        self.waiting = waiting  # counterpart → the label of the callback task their misses need
        self.leads = leads  # new leads' numbers (any day's) → the manager who took their first call

    # -- scheduling -------------------------------------------------------------------------------------------

    def plan(self, at: datetime, what: str, **args: Any) -> None:
        if at < self.end:
            heapq.heappush(self.queue, _Intent(at, next(self.counter), what, args))

    def random_moment(self) -> datetime:
        """Business-hour arrivals, busier late morning and mid-afternoon (a mixture of two bumps)."""
        span = (self.end - self.start).total_seconds()
        peak = self.rng.choice((0.3, 0.7))
        x = self.rng.gauss(peak, 0.18)
        while not 0.0 <= x < 1.0:
            x = self.rng.gauss(peak, 0.18)
        return self.start + timedelta(seconds=int(x * span))

    def free(self, manager_id: str, at: datetime) -> bool:
        return self.busy_until[manager_id] <= at

    def occupy(self, manager_id: str, until: datetime) -> None:
        self.busy_until[manager_id] = max(self.busy_until[manager_id], until)

    def line_free(self, counterpart: str, at: datetime) -> bool:
        return self.line_busy_until.get(counterpart, at) <= at

    def run(self) -> None:
        while self.queue:
            intent = heapq.heappop(self.queue)
            getattr(self, f"_on_{intent.what}")(intent.at, **intent.args)

    # -- formatting what the PBX sends --------------------------------------------------------------------------

    def local(self, at: datetime) -> str:
        return at.astimezone(self.tz).isoformat(timespec="seconds")

    def dialed(self, e164: str) -> str:
        """Numbers as PBXs really send them: E.164, digits without the plus, national or international format."""
        if e164.startswith("+1"):
            digits = e164[2:]
            return self.rng.choice(
                (
                    e164,
                    e164[1:],
                    f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
                    f"{digits[:3]}-{digits[3:6]}-{digits[6:]}",
                )
            )
        return self.rng.choice((e164, "011" + e164[1:]))

    def new_call_id(self) -> str:
        return f"sim{self.seed}-{self.office.day:%Y%m%d}-{next(self.call_counter):05d}"

    def add_call(
        self,
        *,
        kind: CallKind,
        direction: Direction,
        at: datetime,
        status: CallStatus,
        manager: Manager | None,
        counterpart: str | None,
        contact: Contact | None,
        talk_s: int = 0,
        other: Manager | None = None,
        caller: Caller = "client",
        ring_s: int | None = None,
        withheld: bool = False,
        fills_lead: bool = False,
        answered_by: str | None = None,
    ) -> SimCall:
        call_id = self.new_call_id()
        if direction == "inbound":
            assert counterpart is not None
            frm, to = "anonymous" if withheld else self.dialed(counterpart), self.office.main_number
        elif direction == "outbound":
            assert counterpart is not None
            frm, to = self.office.outbound_number, self.dialed(counterpart)
        else:
            assert manager is not None
            assert other is not None
            frm, to = manager.extension, other.extension
        base = {"call_id": call_id, "direction": direction, "from": frm, "to": to}
        agent = manager.extension if manager is not None else None
        events = self.lifecycle(call_id, direction, at, status, agent, talk_s, ring_s)
        if answered_by is not None:  # a voicemail system, not the manager, took the call
            events = [(t, {**f, "agent": answered_by} if f.get("event") == "answered" else f) for t, f in events]
        if self.chance(self.shape.final_only_share):
            events = [(t, f) for t, f in events if f.get("event") in ("ended", "recording")]
        key = counterpart if counterpart is not None else f"call:generic:{call_id}"
        steps = []
        for seq, (when, fields) in enumerate(events):
            payload = {"id": f"{call_id}-{seq}", **base, "occurred_at": self.local(when), "sequence": seq}
            payload.update({k: v for k, v in fields.items() if v is not None})
            steps.append(CallStep(at=when, call_id=call_id, key=key, payload=payload))
        ended = max(s.at for s in steps)
        callback_task = closes_task = None
        if caller == "client" and counterpart is not None:
            # A client is on one call with us at a time, so their calls end in the order they start: the first
            # conversation after a miss is the one that answers it.
            self.line_busy_until[counterpart] = ended
            if direction == "inbound" and status in TASK_STATUSES:
                callback_task = self.waiting.setdefault(counterpart, call_id)
            elif status == "answered":
                closes_task = self.waiting.pop(counterpart, None)
        call = SimCall(
            call_id=call_id,
            kind=kind,
            direction=direction,
            manager_id=manager.id if manager is not None else None,
            counterpart=counterpart,
            contact_id=contact.id if contact is not None else None,
            started_at=at,
            ended_at=ended,
            status=status,
            talk_s=talk_s if status == "answered" else 0,
            steps=tuple(steps),
            caller="colleague" if direction == "internal" else caller,
            callback_task=callback_task,
            closes_task=closes_task,
            withheld=withheld,
            fills_lead=fills_lead,
        )
        self.calls.append(call)
        if manager is not None and status == "answered":
            self.occupy(manager.id, ended)
            if other is not None:
                self.occupy(other.id, ended)
        return call

    def lifecycle(
        self,
        call_id: str,
        direction: Direction,
        at: datetime,
        status: CallStatus,
        agent: str | None,
        talk_s: int,
        ring_s: int | None = None,
    ) -> list[tuple[datetime, dict[str, Any]]]:
        """The PBX events of one call, as (moment, fields) pairs. `ring_s`: how long an unanswered call rang."""
        rng = self.rng
        events: list[tuple[datetime, dict[str, Any]]] = []
        t = at
        if status == "abandoned":  # hung up in the IVR or queue: no phone rang
            t += timedelta(seconds=rng.randint(5, 45))
            ended = {"event": "ended", "status": "abandoned", "duration_s": (t - at).seconds}
            return [(at, {"event": "initiated"}), (t, ended)]
        if direction == "outbound":
            events.append((t, {"event": "initiated", "agent": agent}))
            t += timedelta(seconds=1)
        if status in ("busy", "failed"):
            t += timedelta(seconds=rng.randint(1, 4))
            return [*events, (t, {"event": "ended", "status": status, "agent": agent, "duration_s": (t - at).seconds})]
        events.append((t, {"event": "ringing", "agent": agent}))
        ending: dict[str, Any] = {"event": "ended", "status": status, "agent": agent}
        recorded = False
        if status == "answered":
            t += timedelta(seconds=rng.randint(4, 18))
            events.append((t, {"event": "answered", "agent": agent}))
            t += timedelta(seconds=talk_s)
            ending["talk_s"] = talk_s
            recorded = direction != "internal" and rng.random() < 0.3
        elif status == "voicemail":
            t += timedelta(seconds=rng.randint(4, 18) + rng.randint(10, 90))
            recorded = True
        else:  # missed: it rang, nobody answered
            t += timedelta(seconds=ring_s if ring_s is not None else rng.randint(15, 40))
        ending["duration_s"] = (t - at).seconds
        events.append((t, ending))
        if recorded:
            events.append((t + timedelta(seconds=rng.randint(2, 20)), self.recording(call_id)))
        return events

    def recording(self, call_id: str) -> dict[str, Any]:
        return {"event": "recording", "recording_url": f"https://pbx.example.com/recordings/{call_id}.mp3"}

    def talk(self, median_s: float, low: int, high: int) -> int:
        return int(min(max(self.rng.lognormvariate(0, 0.8) * median_s, low), high))

    def client_talk(self, median_s: float, low: int, high: int, short_share: float | None = None) -> int:
        """A conversation with a client; some are only a few seconds ("I'll call you back")."""
        if self.chance(self.shape.short_client_call_share if short_share is None else short_share):
            return self.rng.randint(3, 9)
        return self.talk(median_s, low, high)

    def their_voicemail(self, status: CallStatus) -> tuple[CallStatus, int]:
        """An unanswered outbound call whose voicemail greeting the PBX reports as answered: (status, talk_s)."""
        if status == "missed" and self.chance(self.shape.voicemail_answered_share):
            return "answered", self.rng.randint(5, 25)
        return status, 0

    def chance(self, share: float) -> bool:
        """A draw only when the share is set, so a shape that leaves it at 0 gives the same day as before."""
        return share > 0 and self.rng.random() < share

    # -- what happens ---------------------------------------------------------------------------------------------

    def _on_client_inbound(self, at: datetime, contact: Contact, kind: CallKind = "client_inbound") -> None:
        if not self.line_free(contact.phone, at):
            return  # already on the phone with us: they do not call as well
        owner = self.office.manager(contact.owner)
        r = self.rng.random()
        if self.free(owner.id, at):
            status: CallStatus = (
                "answered" if r < 0.82 else "missed" if r < 0.91 else "abandoned" if r < 0.96 else "voicemail"
            )
        else:
            status = "voicemail" if r < 0.4 else "missed" if r < 0.8 else "abandoned" if r < 0.9 else "busy"
        talk_s = self.client_talk(150, 15, 1800) if status == "answered" else 0
        greeting = status == "voicemail" and self.chance(self.shape.voicemail_answered_share)
        if greeting:  # our voicemail took it and the PBX reports the call answered
            status, talk_s = "answered", self.rng.randint(10, 40)
        call = self.add_call(
            kind=kind,
            direction="inbound",
            at=at,
            status=status,
            manager=owner,
            counterpart=contact.phone,
            contact=contact,
            talk_s=talk_s,
            answered_by=VOICEMAIL_AGENT if greeting else None,
        )
        if call.wants_callback:
            self.follow_up(call, contact, owner)

    def follow_up(self, call: SimCall, contact: Contact | None, assignee: Manager) -> None:
        assert call.counterpart is not None
        if call.counterpart in self.pending_followup:
            return
        self.pending_followup.add(call.counterpart)
        if contact is not None and self.chance(self.shape.redial_share):
            self.plan(call.ended_at + timedelta(seconds=self.rng.randint(60, 180)), "client_again", contact=contact)
            return
        r = self.rng.random()
        if r < 0.65:
            self.plan(
                call.ended_at + timedelta(minutes=self.rng.randint(5, 90)),
                "callback",
                manager=assignee,
                counterpart=call.counterpart,
                contact=contact,
                attempt=1,
            )
        elif r < 0.85 and contact is not None:
            self.plan(call.ended_at + timedelta(minutes=self.rng.randint(20, 180)), "client_again", contact=contact)
        else:
            self.pending_followup.discard(call.counterpart)  # nobody gets to it today: the task stays open

    def _on_client_again(self, at: datetime, contact: Contact) -> None:
        self.pending_followup.discard(contact.phone)
        self._on_client_inbound(at, contact, kind="client_calls_again")

    def _on_callback(
        self, at: datetime, manager: Manager, counterpart: str, contact: Contact | None, attempt: int
    ) -> None:
        if not self.free(manager.id, at):
            self.plan(
                self.busy_until[manager.id] + timedelta(minutes=self.rng.randint(1, 10)),
                "callback",
                manager=manager,
                counterpart=counterpart,
                contact=contact,
                attempt=attempt,
            )
            return
        r = self.rng.random()
        status: CallStatus = "answered" if r < 0.7 else "missed" if r < 0.92 else "busy"
        if not self.line_free(counterpart, at):
            status = "busy"
        status, greeting_s = self.their_voicemail(status)
        self.add_call(
            kind="callback",
            direction="outbound",
            at=at,
            status=status,
            manager=manager,
            counterpart=counterpart,
            contact=contact,
            talk_s=greeting_s or (self.client_talk(180, 20, 1800) if status == "answered" else 0),
        )
        if status == "answered" or attempt >= 3:
            self.pending_followup.discard(counterpart)
        else:
            self.plan(
                at + timedelta(minutes=self.rng.randint(30, 120)),
                "callback",
                manager=manager,
                counterpart=counterpart,
                contact=contact,
                attempt=attempt + 1,
            )

    def _on_client_outbound(self, at: datetime, manager: Manager, contact: Contact) -> None:
        if not self.free(manager.id, at):
            at = self.busy_until[manager.id] + timedelta(seconds=self.rng.randint(30, 600))
            if at >= self.end:
                return
        r = self.rng.random()
        status: CallStatus = "answered" if r < 0.55 else "missed" if r < 0.9 else "busy" if r < 0.98 else "failed"
        if status != "failed" and not self.line_free(contact.phone, at):
            status = "busy"
        status, greeting_s = self.their_voicemail(status)
        talk_s = greeting_s or (self.client_talk(200, 20, 2400) if status == "answered" else 0)
        self.add_call(
            kind="client_outbound",
            direction="outbound",
            at=at,
            status=status,
            manager=manager,
            counterpart=contact.phone,
            contact=contact,
            talk_s=talk_s,
        )

    def free_manager(self, at: datetime) -> Manager | None:
        candidates = [m for m in self.office.managers if self.free(m.id, at)]
        return self.rng.choice(candidates) if candidates else None

    def _on_unknown(self, at: datetime, number: str, kind: CallKind) -> None:
        """Numbers not in the base reach the hunt group: the first free manager takes it."""
        manager = self.free_manager(at)
        if kind == "wrong_number":
            self.wrong_number(at, number, manager)
            return
        if kind == "new_lead" and manager is not None:
            self.add_call(
                kind=kind,
                direction="inbound",
                at=at,
                status="answered",
                manager=manager,
                counterpart=number,
                contact=None,
                talk_s=self.client_talk(240, 40, 1800, self.shape.short_new_lead_share),
                fills_lead=not self.chance(self.shape.unfilled_lead_share),
            )
            self.leads[number] = manager.id
            return
        rang = manager or self.rng.choice(self.office.managers)
        call = self.add_call(
            kind="unknown_missed",
            direction="inbound",
            at=at,
            status="missed",
            manager=rang,
            counterpart=number,
            contact=None,
        )
        self.follow_up(call, None, rang)

    def _on_lead_again(self, at: datetime, number: str, owner: Manager) -> None:
        """A new lead from an earlier day, now a client nobody may have named: they call, or we call them."""
        if not self.line_free(number, at):
            return
        r = self.rng.random()
        if self.rng.random() < 0.5:
            status: CallStatus = "answered" if r < 0.75 else "missed" if r < 0.9 else "voicemail"
            talk_s = self.client_talk(150, 15, 1800) if status == "answered" else 0
            greeting = status == "voicemail" and self.chance(self.shape.voicemail_answered_share)
            if greeting:
                status, talk_s = "answered", self.rng.randint(10, 40)
            call = self.add_call(
                kind="client_inbound",
                direction="inbound",
                at=at,
                status=status,
                manager=owner if self.free(owner.id, at) or status != "answered" else None,
                counterpart=number,
                contact=None,
                talk_s=talk_s,
                answered_by=VOICEMAIL_AGENT if greeting else None,
            )
            if call.wants_callback:
                self.follow_up(call, None, owner)
            return
        status = "answered" if r < 0.55 else "missed" if r < 0.95 else "busy"
        status, greeting_s = self.their_voicemail(status)
        self.add_call(
            kind="client_outbound",
            direction="outbound",
            at=at,
            status=status,
            manager=owner,
            counterpart=number,
            contact=None,
            talk_s=greeting_s or (self.client_talk(200, 20, 2400) if status == "answered" else 0),
        )

    def wrong_number(self, at: datetime, number: str, manager: Manager | None) -> None:
        shape = self.shape
        if manager is None and not shape.wrong_number_missed_share:
            return  # nobody could answer: nobody ever learns it was a wrong number
        missed = manager is None or self.chance(shape.wrong_number_missed_share)
        if missed:
            manager, talk_s = manager or self.rng.choice(self.office.managers), 0
        else:
            long = self.chance(shape.long_wrong_number_share)
            talk_s = self.rng.randint(10, 15) if long else self.rng.randint(2, 9)
        self.add_call(
            kind="wrong_number",
            direction="inbound",
            at=at,
            status="missed" if missed else "answered",
            manager=manager,
            counterpart=number,
            contact=None,
            talk_s=talk_s,
            caller="wrong_number",
        )

    def _on_spam(self, at: datetime, number: str, manager: Manager, withheld: bool | None = None) -> None:
        answered = self.free(manager.id, at) and self.rng.random() < 0.5
        if withheld is None:
            withheld = self.chance(self.shape.withheld_spam_share)
        one_ring = not answered and self.chance(self.shape.one_ring_spam_share)
        telemarketer = answered and self.chance(self.shape.telemarketer_share)
        self.add_call(
            kind="spam",
            direction="inbound",
            at=at,
            status="answered" if answered else "missed",
            manager=manager,
            counterpart=number,
            contact=None,
            talk_s=(self.rng.randint(8, 45) if telemarketer else self.rng.randint(1, 6)) if answered else 0,
            caller="spam",
            ring_s=self.rng.randint(1, 2) if one_ring else None,
            withheld=withheld,
        )

    def _on_internal(self, at: datetime, caller: Manager, callee: Manager) -> None:
        answered = self.free(callee.id, at) and self.free(caller.id, at) and self.rng.random() < 0.85
        self.add_call(
            kind="internal",
            direction="internal",
            at=at,
            status="answered" if answered else "missed",
            manager=caller,
            counterpart=None,
            contact=None,
            talk_s=self.talk(90, 10, 900) if answered else 0,
            other=callee,
        )


def build_office(seed: int, day: date, shape: DayShape) -> Office:
    rng = random.Random(f"office:{seed}")
    names = _names(rng)
    managers = tuple(
        Manager(
            id=f"m{i:02d}",
            name=(name := next(names)),
            extension=str(101 + i),
            email=f"{name.lower().replace(' ', '.')}@{shape.mail_domain}",
        )
        for i in range(shape.managers)
    )
    used: set[str] = set(_own(shape))
    contacts = []
    for i in range(shape.managers * shape.contacts_per_manager):
        name = next(names)
        phone = _unique_number(rng, used)
        domain = rng.choice(CLIENT_DOMAINS)
        contacts.append(
            Contact(
                id=f"c{i:05d}",
                name=name,
                phone=phone,
                email=f"{name.lower().replace(' ', '.')}.{i}@{domain}",
                owner=managers[i % len(managers)].id,
                email_deliverable=rng.random() >= shape.undeliverable_share,
            )
        )
    return Office(
        timezone=shape.timezone,
        day=day,
        opens=shape.opens,
        closes=shape.closes,
        main_number=shape.main_number,
        outbound_number=shape.outbound_number,
        mail_domain=shape.mail_domain,
        journal_address=f"crm-journal@{shape.mail_domain}",
        managers=managers,
        contacts=tuple(contacts),
        spam_numbers=tuple(_unique_number(rng, used) for _ in range(shape.spam_callers)),
        wrong_numbers=tuple(_unique_number(rng, used) for _ in range(shape.wrong_number_pool)),
    )


def _own(shape: DayShape) -> tuple[str, str]:
    return (shape.main_number, shape.outbound_number)


def _names(rng: random.Random) -> Iterator[str]:
    pairs = [f"{f} {last}" for f in FIRST_NAMES for last in LAST_NAMES]
    n = 0
    while True:
        rng.shuffle(pairs)
        for pair in pairs:
            yield pair if n < len(pairs) else f"{pair} {n // len(pairs) + 1}"
        n += len(pairs)


def _unique_number(rng: random.Random, used: set[str]) -> str:
    while True:
        r = rng.random()
        if r < 0.85:
            number = f"+1{rng.choice(US_AREA_CODES)}555{rng.randint(0, 9999):04d}"
        elif r < 0.93:
            number = f"+44207946{rng.randint(0, 9999):04d}"
        else:
            number = f"+49301{rng.randint(0, 999999):06d}"
        if number not in used:
            used.add(number)
            return number


def generate_day(seed: int, day: date, shape: DayShape | None = None) -> OfficeDay:
    """The same (seed, day, shape) always gives the same office day, to the byte."""
    return generate_days(seed, day, 1, shape)[0]


def generate_days(seed: int, first: date, days: int, shape: DayShape | None = None) -> tuple[OfficeDay, ...]:
    """Consecutive days of one office: the same clients, robocallers and misdialling numbers, new numbers never
    reused, and a client still waiting for a callback at closing time still waiting the next morning (so their
    next miss adds to the same labelled task: `callback_tasks` over all the days' calls gives the run's tasks)."""
    shape = shape or DayShape()
    office = build_office(seed, first, shape)
    used: set[str] = {c.phone for c in office.contacts} | set(office.own_numbers)
    used |= set(office.spam_numbers) | set(office.wrong_numbers)
    waiting: dict[str, str] = {}
    leads: dict[str, str] = {}
    return tuple(
        _one_day(seed, replace(office, day=first + timedelta(days=d)), shape, used, waiting, leads) for d in range(days)
    )


def _plan_office_extras(builder: _DayBuilder, leads: dict[str, str], used: set[str]) -> None:
    """Issue 11's office: earlier new leads calling again, and diallers walking blocks of consecutive numbers."""
    shape, office, rng = builder.shape, builder.office, builder.rng
    for number, owner in list(leads.items()):
        if builder.chance(shape.lead_return_share):
            builder.plan(builder.random_moment(), "lead_again", number=number, owner=office.manager(owner))
    for _ in range(shape.sequential_runs):
        # Each number of the block rings one manager, a few minutes after the one before.
        base, at = _unique_number(rng, used), builder.random_moment()
        for i in range(rng.randint(3, 6)):
            number = f"{base[:-2]}{(int(base[-2:]) + i) % 100:02d}"
            if i and number in used:
                continue
            used.add(number)
            builder.plan(at, "spam", number=number, manager=rng.choice(office.managers), withheld=False)
            at += timedelta(minutes=rng.randint(1, 5))


def _one_day(
    seed: int, office: Office, shape: DayShape, used: set[str], waiting: dict[str, str], leads: dict[str, str]
) -> OfficeDay:
    day = office.day
    tz = ZoneInfo(shape.timezone)
    start = datetime.combine(day, shape.opens, tz).astimezone(UTC)
    end = datetime.combine(day, shape.closes, tz).astimezone(UTC)
    rng = random.Random(f"day:{seed}:{day.isoformat()}")
    builder = _DayBuilder(seed, office, shape, rng, start, end, waiting, leads)
    n = len(office.managers)

    for _ in range(shape.client_calls_per_manager * n):
        contact = rng.choice(office.contacts)
        at = builder.random_moment()
        if rng.random() < shape.inbound_share:
            builder.plan(at, "client_inbound", contact=contact)
        else:
            builder.plan(at, "client_outbound", manager=office.manager(contact.owner), contact=contact)
    for kind, per_manager in (
        ("new_lead", shape.new_leads_per_manager),
        ("unknown_missed", shape.unknown_missed_per_manager),
        ("wrong_number", shape.wrong_numbers_per_manager),
    ):
        for _ in range(round(per_manager * n)):
            repeat = kind == "wrong_number" and office.wrong_numbers and rng.random() < shape.wrong_number_repeat_share
            number = rng.choice(office.wrong_numbers) if repeat else _unique_number(rng, used)
            builder.plan(builder.random_moment(), "unknown", number=number, kind=kind)
    for number in office.spam_numbers:
        # A robocaller rings a different manager each time, so at most once per manager a day.
        for manager in rng.sample(office.managers, k=min(n, rng.randint(*shape.spam_calls_per_caller))):
            builder.plan(builder.random_moment(), "spam", number=number, manager=manager)
    _plan_office_extras(builder, leads, used)
    if n >= 2:
        for _ in range(round(shape.internal_per_manager * n)):
            caller, callee = rng.sample(office.managers, k=2)
            builder.plan(builder.random_moment(), "internal", caller=caller, callee=callee)
    builder.run()

    calls = tuple(sorted(builder.calls, key=lambda c: (c.started_at, c.call_id)))
    emails = generate_emails(office, random.Random(f"mail:{seed}:{day.isoformat()}"), start, end, shape, seed)
    tasks = callback_tasks(calls, owners={c.id: c.owner for c in office.contacts})
    return OfficeDay(seed=seed, office=office, start=start, end=end, calls=calls, emails=emails, tasks=tasks)
