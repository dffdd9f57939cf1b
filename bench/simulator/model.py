"""What a simulated office day is made of: the office (managers, contacts, numbers, hours), the calls and emails
of the day as the PBX and mail servers would send them, and the ground truth about each of them.

Everything here is plain frozen data, so tests, benchmarks and `make demo` can share one generated day and a
checker can compare what Touchpoint stored with what should have happened."""

from __future__ import annotations

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
    wrong_number: bool = False
    spam: bool = False

    @property
    def connected(self) -> bool:
        """A real conversation with the external party: what closes a callback task."""
        return self.status == "answered" and not self.wrong_number and not self.spam and self.direction != "internal"

    @property
    def opens_task(self) -> bool:
        return self.wants_callback and self.status in TASK_STATUSES

    @property
    def wants_callback(self) -> bool:
        """The office returns this call (voicemail and busy too), whether or not it opens a task."""
        return (
            self.direction == "inbound"
            and self.status in RETURNED_STATUSES
            and not self.wrong_number
            and not self.spam
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
    """One open callback task per counterpart: repeat misses add attempts; a connected call closes it."""

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
    """One open reply task per email thread: inbound mail opens it (more inbound mail adds attempts), the
    manager's next mail in the thread closes it."""

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
