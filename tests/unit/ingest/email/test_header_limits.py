"""Header parsing costs time in proportion to the header, never its square, and keeps documented caps."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from datetime import UTC, datetime

from schemas.events import EmailEvent
from services.ingest.email.headers import MAX_RECIPIENTS, MAX_REFERENCES, split_address_list
from services.ingest.email.mime import Envelope, event_from_mime


def with_references(n: int) -> bytes:
    refs = "\r\n ".join(f"<id{i}@client.org>" for i in range(n))
    return f"From: ann@client.org\r\nTo: sales@example.com\r\nReferences: {refs}\r\n\r\nbody\r\n".encode()


def with_recipients(n: int) -> bytes:
    to = ",\r\n ".join(f'"User, {i}" <u{i}@client.org>' for i in range(n))
    return f"From: sales@example.com\r\nTo: {to}\r\n\r\nbody\r\n".encode()


def parse(raw: bytes) -> EmailEvent:
    envelope = Envelope("ann@client.org", ("sales@example.com",))
    return event_from_mime("smtp", raw, envelope, received_at=datetime.now(UTC), domains=("example.com",))


def cpu_cost(build: Callable[[int], bytes], n: int) -> float:
    """The best of five runs, in CPU seconds of this process (other processes on the machine do not count), with
    the cyclic garbage collector held off (a collection landing in one run would count against it)."""
    raw = build(n)
    runs = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(5):
            started = time.process_time()
            parse(raw)
            runs.append(time.process_time() - started)
    finally:
        gc.enable()
    return min(runs)


# A complexity check, not a speed one: 8x the input costs about 8x when parsing is linear and about 64x when it is
# quadratic, so the bound between them (24x) leaves a wide margin on both sides. With 4x and a bound of 6x, a
# linear run once measured 6.7x.
GROWTH, BOUND = 8, 24


def test_references_cost_grows_linearly() -> None:
    """20,000 references took 2.15 s on the event loop (quadratic: 4x the ids cost 14x)."""
    small, large = cpu_cost(with_references, 2_500), cpu_cost(with_references, 2_500 * GROWTH)
    assert large < BOUND * small, (small, large)


def test_recipient_list_cost_grows_linearly() -> None:
    small, large = cpu_cost(with_recipients, 1_000), cpu_cost(with_recipients, 1_000 * GROWTH)
    assert large < BOUND * small, (small, large)


def test_caps_keep_the_root_the_latest_references_and_the_first_recipients() -> None:
    event = parse(with_references(20_000))
    assert len(event.references) == MAX_REFERENCES
    assert event.references[0] == "<id0@client.org>" and event.references[-1] == "<id19999@client.org>"
    event = parse(with_recipients(5_000))
    assert len(event.to) == MAX_RECIPIENTS
    assert event.to[0].address == "u0@client.org" and event.to[0].name == "User, 0"


def test_address_lists_split_outside_quotes_comments_and_brackets() -> None:
    raw = '"Doe, John" <j@x.org>, (a, comment) b@x.org, <c,d@x.org>, , "q\\", r" <q@x.org>'
    assert [item.strip() for item in split_address_list(raw)] == [
        '"Doe, John" <j@x.org>',
        "(a, comment) b@x.org",
        "<c,d@x.org>",
        '"q\\", r" <q@x.org>',
    ]
    assert len(split_address_list("a@x.org," * 1000, max_items=7)) == 7
