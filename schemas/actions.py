"""People's actions on `touchpoint.actions.v1` (one record per action, tagged by `kind`): what the model can check
alone is checked here, so an incomplete action is dead-lettered; the classifier checks the rest when applying it."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, TypeAdapter, model_validator

from schemas.base import E164, Record
from schemas.events import EventId

Outcome = Literal[
    "connected",
    "no_answer",
    "busy",
    "left_voicemail",
    "wrong_number",
    "call_back_later",
    "taken_into_work",
    "done",
]
PlanMetric = Literal["contacts", "meetings", "deals_closed"]
DealResult = Literal["won", "lost"]
NumberVerdict = Literal["wrong", "spam", "legit"]
NumberList = Literal["block", "allow", "none"]
ManagerId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$")]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
# A plan period: a calendar month (2026-11), an ISO week (2026-W48) or a day (2026-11-26).
Period = Annotated[
    str, Field(pattern=r"^\d{4}-(?:(?:0[1-9]|1[0-2])|W(?:0[1-9]|[1-4]\d|5[0-3])|(?:0[1-9]|1[0-2])-\d{2})$")
]


class _Action(Record):
    schema_: Literal["touchpoint.actions/1"] = Field("touchpoint.actions/1", alias="schema")
    event_id: EventId = Field(description="chosen by the producer; the same action always has the same id")
    actor_id: ManagerId = Field(description="the manager (or admin) who acted; written to the audit table")
    occurred_at: AwareDatetime


class SetOutcome(_Action):
    """Confirms the proposed outcome of an interaction, or changes it (the one-click confirmation)."""

    kind: Literal["set_outcome"] = "set_outcome"
    interaction_id: uuid.UUID
    outcome: Outcome

    def kafka_key(self) -> str:
        return str(self.interaction_id)


class MeetingData(Record):
    """The minimum data set of a meeting: every field is required and non-blank; one contact detail at least."""

    date: date
    last_name: Name
    first_name: Name
    phone: E164 | None = None
    email: Annotated[str | None, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")] = None
    topic: Annotated[str, Field(min_length=1, max_length=1000, pattern=r"\S")]
    result: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S")]

    @model_validator(mode="after")
    def _contact_details(self) -> MeetingData:
        if self.phone is None and self.email is None:
            raise ValueError("contact details: a phone (E.164) or an email address is required")
        return self


class RecordMeeting(_Action):
    """Meeting data for a contact (and the interaction that led to it, if any)."""

    kind: Literal["record_meeting"] = "record_meeting"
    meeting_id: uuid.UUID = Field(description="the meeting; recording it again replaces its data")
    contact_id: uuid.UUID
    interaction_id: uuid.UUID | None = None
    meeting: MeetingData

    def kafka_key(self) -> str:
        return str(self.meeting_id)


class ReassignContact(_Action):
    """Gives a contact (client) to another manager; its open tasks follow it."""

    kind: Literal["reassign_contact"] = "reassign_contact"
    contact_id: uuid.UUID
    manager_id: ManagerId

    def kafka_key(self) -> str:
        return str(self.contact_id)


class SetPlan(_Action):
    """A target for one manager, metric and period; setting it again replaces the target."""

    kind: Literal["set_plan"] = "set_plan"
    manager_id: ManagerId
    metric: PlanMetric
    period: Period
    target: Annotated[int, Field(ge=0, le=1_000_000)]

    def kafka_key(self) -> str:
        return f"{self.manager_id}|{self.metric}|{self.period}"


class MarkNumber(_Action):
    """A manager's verdict on a number: wrong number, spam, or legitimate (correcting a flag). Names the number
    directly or through an interaction with it."""

    kind: Literal["mark_number"] = "mark_number"
    verdict: NumberVerdict
    interaction_id: uuid.UUID | None = None
    number: E164 | None = None

    @model_validator(mode="after")
    def _target(self) -> MarkNumber:
        if (self.interaction_id is None) == (self.number is None):
            raise ValueError("exactly one of interaction_id and number is required")
        return self

    def kafka_key(self) -> str:
        return str(self.interaction_id) if self.interaction_id else str(self.number)


class SetNumberList(_Action):
    """Puts a number on the block list (never a contact, a lead or a task) or the allow list (never flagged)."""

    kind: Literal["set_number_list"] = "set_number_list"
    number: E164
    list: NumberList

    def kafka_key(self) -> str:
        return self.number


class UpsertManager(_Action):
    """Creates or replaces a manager: how the managers table is seeded and kept (see docs/classifier.md)."""

    kind: Literal["upsert_manager"] = "upsert_manager"
    manager_id: ManagerId
    name: Name
    email: Annotated[str | None, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")] = None
    extensions: tuple[Annotated[str, Field(pattern=r"^\d{1,6}$")], ...] = ()
    on_duty: bool = False
    active: bool = True
    team: Name | None = Field(
        None, description="the team the manager works in (a supervisor's team); absent keeps the current team"
    )

    def kafka_key(self) -> str:
        return self.manager_id


class CloseTask(_Action):
    """A person closes a task by hand (e.g. the contact's data is filled in, or the task is moot)."""

    kind: Literal["close_task"] = "close_task"
    task_id: uuid.UUID
    resolution: Literal["done", "cancelled"]

    def kafka_key(self) -> str:
        return str(self.task_id)


Email = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
ConsentChannel = Literal["email", "phone", "sms"]


class EditContact(_Action):
    """An operator corrects a client's personal data: names replace the old ones when given; addresses (E.164
    numbers, lower-cased email addresses) are added to or removed from the contact. Produced by reporting's
    operators' desk; the classifier applies it (an address owned by another contact refuses it)."""

    kind: Literal["edit_contact"] = "edit_contact"
    contact_id: uuid.UUID
    first_name: Name | None = None
    last_name: Name | None = None
    add_phones: tuple[E164, ...] = ()
    remove_phones: tuple[E164, ...] = ()
    add_emails: tuple[Email, ...] = ()
    remove_emails: tuple[Email, ...] = ()

    @model_validator(mode="after")
    def _changes_something(self) -> EditContact:
        if not (
            self.first_name
            or self.last_name
            or self.add_phones
            or self.remove_phones
            or self.add_emails
            or self.remove_emails
        ):
            raise ValueError("an edit must change at least one field")
        return self

    def kafka_key(self) -> str:
        return str(self.contact_id)


class MergeContacts(_Action):
    """Two records of one client: `duplicate_id`'s addresses, interactions, tasks and meetings move to
    `contact_id`, which keeps its owner; the duplicate is then empty. Nothing is deleted, so it is audited."""

    kind: Literal["merge_contacts"] = "merge_contacts"
    contact_id: uuid.UUID = Field(description="the contact that stays")
    duplicate_id: uuid.UUID = Field(description="the contact merged into it")

    @model_validator(mode="after")
    def _two_contacts(self) -> MergeContacts:
        if self.contact_id == self.duplicate_id:
            raise ValueError("a contact cannot be merged into itself")
        return self

    def kafka_key(self) -> str:
        return str(self.contact_id)


class RecordConsent(_Action):
    """A client's consent to campaigns on one channel, given or withdrawn, and where it was recorded from."""

    kind: Literal["record_consent"] = "record_consent"
    contact_id: uuid.UUID
    channel: ConsentChannel
    granted: bool
    source: Annotated[str, Field(min_length=1, max_length=500, pattern=r"\S")] = Field(
        description="how the consent was given (a call, a signed form, an email), in the operator's words"
    )

    def kafka_key(self) -> str:
        return str(self.contact_id)


class ReassignTask(_Action):
    """Gives an open task to another manager (a departing manager's callbacks of unknown numbers, which have no
    contact to follow)."""

    kind: Literal["reassign_task"] = "reassign_task"
    task_id: uuid.UUID
    manager_id: ManagerId

    def kafka_key(self) -> str:
        return str(self.task_id)


class OpenDeal(_Action):
    """A manager takes a client into work: a deal opens for the contact (one open deal per contact). The
    `taken_into_work` outcome opens one too, when the contact has none open."""

    kind: Literal["open_deal"] = "open_deal"
    deal_id: uuid.UUID = Field(description="chosen by the producer; the deal's id from now on")
    contact_id: uuid.UUID
    interaction_id: uuid.UUID | None = Field(None, description="the interaction it was taken into work from")

    def kafka_key(self) -> str:
        return str(self.deal_id)


class CloseDeal(_Action):
    """Closes an open deal as won or lost; the amount (in the company's currency) counts for won deals."""

    kind: Literal["close_deal"] = "close_deal"
    deal_id: uuid.UUID
    result: DealResult
    amount: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)] | None = None

    def kafka_key(self) -> str:
        return str(self.deal_id)


Action = Annotated[
    SetOutcome
    | RecordMeeting
    | ReassignContact
    | SetPlan
    | MarkNumber
    | SetNumberList
    | UpsertManager
    | CloseTask
    | EditContact
    | MergeContacts
    | RecordConsent
    | ReassignTask
    | OpenDeal
    | CloseDeal,
    Field(discriminator="kind"),
]
ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)
