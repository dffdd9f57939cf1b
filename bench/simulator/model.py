"""What a simulated office day is made of: the office, its calls and emails as PBX and mail servers send them, and
the ground-truth label each call and email carries (plain frozen data, shared by tests, benchmarks and the demo)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from email.message import Message
from typing import Any, Literal

CallKind = Literal[
    "client_inbound",  # a known client calls us
    "client_outbound",  # a manager calls a known client (sales work, not a callback)
    "callback",  # a manager calls back a client with an open callback task
    "client_calls_again",  # the client of an open callback task calls us again
    "new_lead",  # an unknown number with a real conversation
    "unknown_missed",  # an unknown number that nobody answered (could be a lead)
    "wrong_number",  # an unknown number, answered, a few seconds of "sorry, wrong number"
    "spam",  # a robocaller ringing several managers
    "internal",  # extension to extension
]
CallStatus = Literal["answered", "missed", "abandoned", "voicemail", "busy", "failed"]
Direction = Literal["inbound", "outbound", "internal"]

# The inbound statuses that open a callback task: issue 4's rule ("a missed or abandoned inbound call creates a
# callback task"), which the classifier follows (NEEDS_CALLBACK in services/classifier/classify.py). Voicemail and
# busy are left out by that product decision, not because nobody returns them: see docs/simulator.md.
TASK_STATUSES: frozenset[str] = frozenset({"missed", "abandoned"})
# What a manager in the simulated office returns whether or not Touchpoint makes a task of it: the generator's
# behaviour, kept apart from the label so the same seed still gives the same day.
RETURNED_STATUSES: frozenset[str] = frozenset({"missed", "abandoned", "voicemail", "busy"})

# Who is on the other end of a call: the class a flag is scored against. A new lead is a client; wrong numbers and
# spam are distinct classes (a person who misdialled is not a robocaller), and colleagues are never scored.
Caller = Literal["client", "wrong_number", "spam", "colleague"]
UNWANTED: frozenset[str] = frozenset({"wrong_number", "spam"})

EmailKind = Literal["received", "sent", "auto-reply", "bounce", "bulk", "internal"]


@dataclass(frozen=True, slots=True)
class Manager:
    id: str
    name: str
    extension: str
    email: str


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    name: str
    phone: str  # E.164
    email: str
    owner: str  # manager id
    email_deliverable: bool = True


@dataclass(frozen=True, slots=True)
class Office:
    timezone: str
    day: date
    opens: time
    closes: time
    main_number: str  # the DID clients call
    outbound_number: str  # the caller id managers call out with
    mail_domain: str
    journal_address: str  # our mailbox that gets a copy of outbound mail (smart BCC)
    managers: tuple[Manager, ...]
    contacts: tuple[Contact, ...]
    spam_numbers: tuple[str, ...] = ()  # robocallers that call every day
    wrong_numbers: tuple[str, ...] = ()  # numbers that misdial us again and again

    @property
    def own_numbers(self) -> tuple[str, ...]:
        return (self.main_number, self.outbound_number)

    def manager(self, manager_id: str) -> Manager:
        return next(m for m in self.managers if m.id == manager_id)


@dataclass(frozen=True, slots=True)
class CallStep:
    """One webhook of the PBX: `payload` is the generic feed's JSON object (docs/generic-feed.md)."""

    at: datetime
    call_id: str
    key: str  # what Touchpoint partitions by: the counterpart, or the call for internal calls
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SimCall:
    call_id: str
    kind: CallKind
    direction: Direction
    manager_id: str | None  # who answered / called / whose phone rang
    counterpart: str | None  # E.164 truth; None for internal calls
    contact_id: str | None  # None for numbers not in the client base
    started_at: datetime
    ended_at: datetime
    status: CallStatus  # the automatic status Touchpoint must derive
    talk_s: int
    steps: tuple[CallStep, ...]
    caller: Caller = "client"
    # Labels set by the generator as the day happens (ids are the call id of the need's first miss): a client's
    # missed call that a callback task must cover (repeat misses before anyone reached the client share one), and
    # the client's next conversation with us, which answers it.
    callback_task: str | None = None
    closes_task: str | None = None
    withheld: bool = False  # the caller withheld their id: the PBX sends "anonymous", not the number
    fills_lead: bool = False  # a new lead's call after which the manager fills in the lead (a name)

    @property
    def wrong_number(self) -> bool:
        return self.caller == "wrong_number"

    @property
    def spam(self) -> bool:
        return self.caller == "spam"

    @property
    def unwanted(self) -> bool:
        """The ground truth a wrong-number/spam flag is scored against."""
        return self.caller in UNWANTED

    @property
    def connected(self) -> bool:
        """A real conversation with a client."""
        return self.status == "answered" and self.caller == "client" and self.direction != "internal"

    @property
    def opens_task(self) -> bool:
        return self.callback_task is not None

    @property
    def wants_callback(self) -> bool:
        """The simulated office returns this call (voicemail and busy too), whether or not a task covers it."""
        return (
            self.direction == "inbound"
            and self.status in RETURNED_STATUSES
            and self.caller == "client"
            and self.counterpart is not None
        )

    @property
    def decided_at(self) -> datetime:
        """When the PBX's `ended` event happened: the moment the classifier learns the final status and acts."""
        return next((s.at for s in self.steps if s.payload.get("event") == "ended"), self.ended_at)

    @property
    def answered_at(self) -> datetime | None:
        return next((s.at for s in self.steps if s.payload.get("event") == "answered"), None)

    @property
    def rang(self) -> bool:
        """Whether a manager's phone rang (an abandoned call hung up in the IVR before any did)."""
        return any(s.payload.get("event") == "ringing" for s in self.steps)


@dataclass(frozen=True, slots=True)
class ExpectedTask:
    """A callback task as the labels describe it: the client's misses it covers and the conversation that
    answered them (`callback_tasks` groups the calls' labels; nothing here re-applies the classifier's rules)."""

    counterpart: str
    contact_id: str | None
    # Manager id: the contact's owner, else the manager whose phone rang. None when neither is known (an abandoned
    # call from a number that is not a contact yet): the classifier then balances load, which a label can't predict.
    assignee: str | None
    opened_by: tuple[str, ...]  # call ids, first miss first
    closed_by: str | None  # call id of the connected call, or None if still open at the end of the day
    closed_after_s: int | None  # from the first miss's end to the answer (the classifier's `response_s`)
    closed_by_manager: str | None = None  # who called back (or took the client's call)


@dataclass(frozen=True, slots=True)
class ExpectedReply:
    """A reply task as the labels describe it: the client's mail that needs a reply and the manager's answer."""

    thread_root: str  # Message-ID of the thread's first message
    opened_by: tuple[str, ...]  # Message-IDs of the inbound mail, first first
    closed_by: str | None  # Message-ID of the outbound mail that answered, or None if still open


@dataclass(frozen=True, slots=True)
class SimEmail:
    message_id: str
    kind: EmailKind
    at: datetime
    key: str  # counterpart address, as Touchpoint keys email events
    message: Message
    envelope_from: str
    envelope_to: tuple[str, ...]
    thread_root: str  # Message-ID of the first message of the thread
    manager_id: str | None
    contact_id: str | None
    needs_reply: bool = False  # inbound mail from a client a manager must answer: a reply task
    answers: str | None = None  # Message-ID of the inbound mail whose reply task this outbound mail closes
    marks_undeliverable: str | None = None  # the address a bounce says cannot receive mail


@dataclass(frozen=True, slots=True)
class DayStats:
    calls: int
    call_steps: int
    emails: int
    by_kind: dict[str, int]
    by_status: dict[str, int]
    tasks_opened: int
    tasks_closed: int
    wrong_numbers: int
    spam_calls: int
    email_by_kind: dict[str, int]
    reply_tasks: int


@dataclass(frozen=True, slots=True)
class OfficeDay:
    seed: int
    office: Office
    start: datetime  # UTC, the office opening
    end: datetime  # UTC, the office closing
    calls: tuple[SimCall, ...]
    emails: tuple[SimEmail, ...]
    tasks: tuple[ExpectedTask, ...] = field(default=())

    def call(self, call_id: str) -> SimCall:
        return next(c for c in self.calls if c.call_id == call_id)

    @property
    def replies(self) -> tuple[ExpectedReply, ...]:
        return reply_tasks(self.emails)

    @property
    def steps(self) -> list[CallStep]:
        return sorted((s for c in self.calls for s in c.steps), key=lambda s: (s.at, s.call_id))

    def stats(self) -> DayStats:
        by_kind: dict[str, int] = {}
        by_status: dict[str, int] = {}
        for c in self.calls:
            by_kind[c.kind] = by_kind.get(c.kind, 0) + 1
            by_status[c.status] = by_status.get(c.status, 0) + 1
        email_by_kind: dict[str, int] = {}
        for e in self.emails:
            email_by_kind[e.kind] = email_by_kind.get(e.kind, 0) + 1
        return DayStats(
            calls=len(self.calls),
            call_steps=sum(len(c.steps) for c in self.calls),
            emails=len(self.emails),
            by_kind=dict(sorted(by_kind.items())),
            by_status=dict(sorted(by_status.items())),
            tasks_opened=len(self.tasks),
            tasks_closed=sum(1 for t in self.tasks if t.closed_by is not None),
            wrong_numbers=sum(1 for c in self.calls if c.wrong_number),
            spam_calls=sum(1 for c in self.calls if c.spam),
            email_by_kind=dict(sorted(email_by_kind.items())),
            reply_tasks=sum(1 for e in self.emails if e.needs_reply),
        )


def callback_tasks(calls: tuple[SimCall, ...], owners: Mapping[str, str]) -> tuple[ExpectedTask, ...]:
    """The callback tasks the calls' labels describe. `owners`: contact id → owning manager, who should call
    back; a number that is nobody's contact is the manager's whose phone rang."""
    by_task: dict[str, list[SimCall]] = {}
    closer: dict[str, SimCall] = {}
    for call in calls:
        if call.callback_task is not None:
            by_task.setdefault(call.callback_task, []).append(call)
        if call.closes_task is not None:
            closer[call.closes_task] = call
    tasks = []
    for task_id, misses in by_task.items():
        first, done = misses[0], closer.get(task_id)
        assert first.counterpart is not None, "only a number can be called back"
        answered = (done.answered_at or done.started_at) if done else None
        tasks.append(
            ExpectedTask(
                counterpart=first.counterpart,
                contact_id=first.contact_id,
                assignee=owners[first.contact_id] if first.contact_id else first.manager_id if first.rang else None,
                opened_by=tuple(c.call_id for c in misses),
                closed_by=done.call_id if done else None,
                closed_after_s=max(0, int((answered - first.decided_at).total_seconds())) if answered else None,
                closed_by_manager=done.manager_id if done else None,
            )
        )
    return tuple(sorted(tasks, key=lambda t: t.opened_by[0]))


def reply_tasks(emails: tuple[SimEmail, ...]) -> tuple[ExpectedReply, ...]:
    """The reply tasks the mail's labels describe: each mail that needs a reply, and the mail that `answers` it."""
    answer = {e.answers: e.message_id for e in emails if e.answers}
    return tuple(
        ExpectedReply(e.thread_root, (e.message_id,), answer.get(e.message_id)) for e in emails if e.needs_reply
    )
