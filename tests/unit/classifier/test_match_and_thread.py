from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from services.classifier.match_contacts import call_makes_lead, match_email, match_phone
from services.classifier.thread_emails import email_interaction_id, email_status, thread_of
from tests.unit.classifier.factories import CLIENT, OWN, POLICY, email

KNOWN = {CLIENT: uuid.uuid4(), "jane@client.test": uuid.uuid4()}


def test_phone_matching_is_exact_and_our_numbers_are_never_contacts() -> None:
    assert match_phone("inbound", CLIENT, POLICY, KNOWN.get).kind == "known"
    assert match_phone("inbound", "+14155550124", POLICY, KNOWN.get).kind == "unknown"
    assert match_phone("inbound", OWN, POLICY, KNOWN.get).kind == "own"
    assert match_phone("internal", CLIENT, POLICY, KNOWN.get).kind == "internal"
    assert match_phone("inbound", None, POLICY, KNOWN.get).kind == "none"


def test_email_matching_is_case_insensitive_and_our_domains_are_never_contacts() -> None:
    assert match_email("inbound", "Jane@Client.test", POLICY, KNOWN.get).kind == "known"
    assert match_email("inbound", "ann@EXAMPLE.com", POLICY, KNOWN.get).kind == "own"


def test_only_a_real_unflagged_conversation_with_a_stranger_makes_a_lead() -> None:
    stranger = match_phone("inbound", "+14155550124", POLICY, KNOWN.get)
    assert call_makes_lead(stranger, "answered", flagged=False)
    assert not call_makes_lead(stranger, "answered", flagged=True)
    assert not call_makes_lead(stranger, "missed", flagged=False)
    assert not call_makes_lead(match_phone("inbound", CLIENT, POLICY, KNOWN.get), "answered", flagged=False)


def test_email_statuses() -> None:
    assert email_status(email("a")) == "received"
    assert email_status(email("a", direction="outbound")) == "sent"
    assert email_status(email("a", is_bounce=True)) == "bounce"
    assert email_status(email("a", is_auto_reply=True, auto_submitted="auto-replied")) == "auto_reply"
    # Ingest alone decides what is a bounce or an automatic reply; the classifier takes its flags as they are.
    assert email_status(email("a", counterpart="mailer-daemon@client.test")) == "received"
    assert email_status(email("a", auto_submitted="no; x")) == "received"
    assert email_status(email("a", precedence="bulk")) == "bulk"
    assert email_status(email("a", list_unsubscribe=True)) == "bulk"


THREAD = [
    email("root@c"),
    email("r1@x", direction="outbound", in_reply_to="root@c", references=("root@c",), minutes=5),
    email("r2@c", in_reply_to="r1@x", references=("root@c", "r1@x"), minutes=9),
    email("r3@x", direction="outbound", in_reply_to="r2@c", references=("root@c", "r1@x", "r2@c"), minutes=12),
]


@given(st.permutations(THREAD))
def test_a_thread_is_one_thread_whatever_order_its_messages_arrive_in(order: list[object]) -> None:
    known: dict[str, uuid.UUID] = {}
    threads = set()
    for message in order:
        thread = thread_of(message, known)  # type: ignore[arg-type] # permutations of EmailEvents
        known[message.message_id.strip("<>")] = thread  # type: ignore[attr-defined] # idem
        threads.add(thread)
    assert len(threads) == 1


def test_a_reply_without_references_joins_the_thread_it_replies_to_when_known() -> None:
    known = {"root@c": thread_of(THREAD[0], {})}
    lazy = email("lazy@c", in_reply_to="root@c")
    assert thread_of(lazy, known) == known["root@c"]


def test_the_same_message_from_two_providers_is_one_interaction() -> None:
    assert email_interaction_id(email("same@c")) == email_interaction_id(email("<SAME@c>".strip("<>")))
