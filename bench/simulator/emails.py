"""The mail of an office day (pure, deterministic for a seeded `random.Random`): client threads that need a reply
and the managers' replies, offers that meet out-of-office auto-replies or bounce off dead mailboxes, newsletters,
and mail between colleagues. Messages are real RFC 5322 messages with the headers that decide their kind
(RFC 3834 `Auto-Submitted`, `Precedence`, `List-Unsubscribe`, `multipart/report` delivery-status)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime
from typing import TYPE_CHECKING

from bench.simulator.model import Contact, EmailKind, Manager, Office, SimEmail

if TYPE_CHECKING:
    from bench.simulator.generate import DayShape

SUBJECTS = (
    "Question about invoice",
    "Delivery dates for our order",
    "Can we move the meeting?",
    "Price list for next quarter",
    "Contract draft comments",
    "Problem with the last shipment",
    "Request for a demo",
)
VENDORS = ("news@supplier-digest.test", "offers@office-goods.test", "digest@industry-weekly.test")


class _Mail:
    def __init__(self, office: Office, rng: random.Random, start: datetime, end: datetime, seed: int) -> None:
        self.seed = seed
        self.office = office
        self.rng = rng
        self.start = start
        self.end = end
        self.out: list[SimEmail] = []
        self.n = 0

    def message_id(self) -> str:
        self.n += 1
        # The seed is part of it, as in call ids: another seed's day on the same database is new mail, not
        # duplicates of the last one that ingest and the classifier would rightly drop.
        return f"<sim{self.seed}-{self.office.day:%Y%m%d}-{self.n:05d}@mail.sim.test>"

    def moment(self, early: bool = False) -> datetime:
        """Mail arrives through the day; some of it overnight, waiting at the opening."""
        span = (self.end - self.start).total_seconds()
        if early and self.rng.random() < 0.2:
            return self.start - timedelta(minutes=self.rng.randint(5, 600))
        return self.start + timedelta(seconds=int(self.rng.random() * span * 0.95))

    def text(
        self,
        *,
        sender: str,
        to: str,
        subject: str,
        at: datetime,
        body: str,
        reply_to: SimEmail | None = None,
    ) -> tuple[str, EmailMessage]:
        mid = self.message_id()
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = format_datetime(at)
        msg["Message-ID"] = mid
        if reply_to is not None:
            msg["In-Reply-To"] = reply_to.message_id
            refs = reply_to.message.get("References")
            msg["References"] = f"{refs} {reply_to.message_id}" if refs else reply_to.message_id
        msg.set_content(body)
        return mid, msg

    def add(self, email: SimEmail) -> SimEmail:
        self.out.append(email)
        return email

    # -- the kinds of mail ----------------------------------------------------------------------------------------

    def client_thread(self, manager: Manager, contact: Contact) -> None:
        """The client writes; the manager answers (or not yet); sometimes the client writes back."""
        subject = self.rng.choice(SUBJECTS)
        at = self.moment(early=True)
        first = self.inbound(manager, contact, subject, at, None)
        last = first
        for _round in range(2):
            if self.rng.random() > 0.75:
                return  # no reply today: the reply task stays open
            at = max(at, self.start) + timedelta(minutes=self.rng.randint(10, 180))
            if at >= self.end:
                return
            reply = self.outbound(manager, contact, f"Re: {subject}", at, last, answers=last.message_id)
            if self.rng.random() > 0.3:
                return
            at += timedelta(minutes=self.rng.randint(5, 120))
            if at >= self.end:
                return
            last = self.inbound(manager, contact, f"Re: {subject}", at, reply)

    def inbound(
        self, manager: Manager, contact: Contact, subject: str, at: datetime, parent: SimEmail | None
    ) -> SimEmail:
        mid, msg = self.text(
            sender=f"{contact.name} <{contact.email}>",
            to=f"{manager.name} <{manager.email}>",
            subject=subject,
            at=at,
            body=f"Hello {manager.name.split()[0]},\n\nCould you get back to me about this?\n\n{contact.name}\n",
            reply_to=parent,
        )
        return self.add(
            SimEmail(
                message_id=mid,
                kind="received",
                at=at,
                key=contact.email,
                message=msg,
                envelope_from=contact.email,
                envelope_to=(manager.email,),
                thread_root=parent.thread_root if parent else mid,
                manager_id=manager.id,
                contact_id=contact.id,
                needs_reply=True,
            )
        )

    def outbound(
        self,
        manager: Manager,
        contact: Contact,
        subject: str,
        at: datetime,
        parent: SimEmail | None,
        answers: str | None = None,
    ) -> SimEmail:
        mid, msg = self.text(
            sender=f"{manager.name} <{manager.email}>",
            to=f"{contact.name} <{contact.email}>",
            subject=subject,
            at=at,
            body=f"Dear {contact.name.split()[0]},\n\nThank you, please find the details below.\n\n{manager.name}\n",
            reply_to=parent,
        )
        # Our outgoing mail reaches Touchpoint as a copy to the journal mailbox (smart BCC), not the client's MX.
        return self.add(
            SimEmail(
                message_id=mid,
                kind="sent",
                at=at,
                key=contact.email,
                message=msg,
                envelope_from=manager.email,
                envelope_to=(self.office.journal_address,),
                thread_root=parent.thread_root if parent else mid,
                manager_id=manager.id,
                contact_id=contact.id,
                answers=answers,
            )
        )

    def offer(self, manager: Manager, contact: Contact) -> None:
        """A manager's offer; a dead mailbox bounces it, an absent client's mailbox auto-replies."""
        at = self.moment()
        sent = self.outbound(manager, contact, "Our offer for you", at, None)
        if not contact.email_deliverable:
            self.bounce(manager, contact, sent, at + timedelta(seconds=self.rng.randint(5, 300)))
        elif self.rng.random() < 0.2:
            self.auto_reply(manager, contact, sent, at + timedelta(seconds=self.rng.randint(2, 120)))

    def auto_reply(self, manager: Manager, contact: Contact, parent: SimEmail, at: datetime) -> None:
        mid, msg = self.text(
            sender=f"{contact.name} <{contact.email}>",
            to=manager.email,
            subject=f"Automatic reply: {parent.message['Subject']}",
            at=at,
            body="I am out of the office until Monday with limited access to email.\n",
            reply_to=parent,
        )
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Autoreply"] = "yes"
        self.add(
            SimEmail(
                message_id=mid,
                kind="auto-reply",
                at=at,
                key=contact.email,
                message=msg,
                envelope_from="",  # RFC 3834: auto-replies go out with a null reverse-path
                envelope_to=(manager.email,),
                thread_root=parent.thread_root,
                manager_id=manager.id,
                contact_id=contact.id,
            )
        )

    def bounce(self, manager: Manager, contact: Contact, parent: SimEmail, at: datetime) -> None:
        domain = contact.email.rsplit("@", 1)[1]
        mid = self.message_id()
        # A fixed boundary: the email package would pick a random one, and the same seed must give the same bytes.
        report = MIMEMultipart("report", boundary=f"=_sim_{mid.strip('<>')}", report_type="delivery-status")
        report["From"] = f"Mail Delivery System <MAILER-DAEMON@mx.{domain}>"
        report["To"] = manager.email
        report["Subject"] = "Undelivered Mail Returned to Sender"
        report["Date"] = format_datetime(at)
        report["Message-ID"] = mid
        report["Auto-Submitted"] = "auto-replied"
        report.attach(MIMEText(f"Your message to <{contact.email}> could not be delivered: mailbox unavailable.\n"))
        per_message = Message()
        per_message["Reporting-MTA"] = f"dns; mx.{domain}"
        per_recipient = Message()
        per_recipient["Final-Recipient"] = f"rfc822; {contact.email}"
        per_recipient["Action"] = "failed"
        per_recipient["Status"] = "5.1.1"
        status = MIMEBase("message", "delivery-status")
        status.set_payload([per_message, per_recipient])
        report.attach(status)
        headers = MIMEText(
            "".join(f"{k}: {v}\n" for k, v in parent.message.items() if k in ("From", "To", "Subject", "Message-ID")),
            "rfc822-headers",
        )
        report.attach(headers)
        self.add(
            SimEmail(
                message_id=mid,
                kind="bounce",
                at=at,
                key=contact.email,
                message=report,
                envelope_from="",
                envelope_to=(manager.email,),
                thread_root=parent.thread_root,
                manager_id=manager.id,
                contact_id=contact.id,
                marks_undeliverable=contact.email,
            )
        )

    def bulk(self, manager: Manager) -> None:
        vendor = self.rng.choice(VENDORS)
        at = self.moment(early=True)
        mid, msg = self.text(
            sender=vendor, to=manager.email, subject="This week's deals", at=at, body="Unsubscribe at any time.\n"
        )
        msg["Precedence"] = "bulk"
        msg["List-Unsubscribe"] = f"<mailto:unsubscribe@{vendor.split('@')[1]}>"
        self.add(
            SimEmail(
                message_id=mid,
                kind="bulk",
                at=at,
                key=vendor,
                message=msg,
                envelope_from=f"bounces@{vendor.split('@')[1]}",
                envelope_to=(manager.email,),
                thread_root=mid,
                manager_id=manager.id,
                contact_id=None,
            )
        )

    def internal(self, sender: Manager, recipient: Manager) -> None:
        at = self.moment()
        mid, msg = self.text(
            sender=sender.email, to=recipient.email, subject="Client handover", at=at, body="Can you take this one?\n"
        )
        self.add(
            SimEmail(
                message_id=mid,
                kind="internal",
                at=at,
                key=f"email:{mid}",
                message=msg,
                envelope_from=sender.email,
                envelope_to=(recipient.email,),
                thread_root=mid,
                manager_id=sender.id,
                contact_id=None,
            )
        )


def generate_emails(
    office: Office, rng: random.Random, start: datetime, end: datetime, shape: DayShape, seed: int = 0
) -> tuple[SimEmail, ...]:
    mail = _Mail(office, rng, start, end, seed)
    by_owner: dict[str, list[Contact]] = {}
    for c in office.contacts:
        by_owner.setdefault(c.owner, []).append(c)
    for manager in office.managers:
        mine = by_owner.get(manager.id, [])
        if not mine:
            continue
        for _ in range(shape.email_threads_per_manager):
            mail.client_thread(manager, rng.choice(mine))
        dead = [c for c in mine if not c.email_deliverable]
        for _ in range(shape.outbound_emails_per_manager):
            # Offers go out to old addresses more often than a uniform pick would: that is where bounces come from.
            mail.offer(manager, rng.choice(dead) if dead and rng.random() < 0.2 else rng.choice(mine))
        for _ in range(shape.bulk_per_manager):
            mail.bulk(manager)
        if len(office.managers) > 1 and rng.random() < 0.5:
            mail.internal(manager, rng.choice([m for m in office.managers if m.id != manager.id]))
    kinds: tuple[EmailKind, ...] = ("received", "sent", "auto-reply", "bounce", "bulk", "internal")
    assert all(e.kind in kinds for e in mail.out)
    return tuple(sorted(mail.out, key=lambda e: (e.at, e.message_id)))
