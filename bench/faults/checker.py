"""The Jepsen-style verdict of a fault run, a pure function of what was sent and what was found afterwards.

Every sent event gets one verdict. An acknowledged event (2xx / SMTP 250) must be stored exactly once with the
content it was sent with, and its latest state must be on the interactions topic; one refused for good (4xx / 5xx
other than 503) or never acknowledged may be absent. Poison produced straight to Kafka must be dead-lettered."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Verdict(StrEnum):
    OK = "ok"
    LOST = "lost"
    DUPLICATED = "duplicated"
    UNEXPECTED = "unexpected"
    WRONG = "wrong"
    NEVER_ACKNOWLEDGED = "never acknowledged"
    REFUSED = "refused"
    DEAD_LETTERED = "dead-lettered"


FAILURES = (Verdict.LOST, Verdict.DUPLICATED, Verdict.UNEXPECTED, Verdict.WRONG)


class Answer(StrEnum):
    """How the sender's last attempt ended."""

    ACKED = "acked"  # 2xx, SMTP 250
    REFUSED = "refused"  # a final 4xx/5xx that a provider does not retry
    UNACKED = "unacked"  # no answer, or still 503/4xx-transient when the retries ran out
    PRODUCED = "produced"  # written straight to Kafka, bypassing ingest (poison the classifier must dead-letter)


@dataclass(frozen=True, slots=True)
class Content:
    """What an interaction must say about the event that made it."""

    kind: str
    status: str
    direction: str
    counterpart: str


@dataclass(frozen=True, slots=True)
class Sent:
    source: str
    external_id: str  # the provider's call id, or the normalized Message-ID
    answer: Answer
    content: Content | None  # None for poison: it must not be stored at all
    fault: str = ""  # the fault this event was sent under (poison kind, overload, ...), for the report
    code: int = 0


@dataclass(frozen=True, slots=True)
class Stored:
    """One interactions row (with its count of applied input events) of this run."""

    interaction_id: str
    source: str
    external_id: str
    version: int
    events: int
    content: Content


@dataclass(frozen=True, slots=True)
class Published:
    """One record of the interactions topic."""

    interaction_id: str
    version: int
    status: str | None
    direction: str


@dataclass(frozen=True, slots=True)
class Finding:
    source: str
    external_id: str
    verdict: Verdict
    detail: str = ""
    fault: str = ""


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    redelivered: int = 0  # topic records seen more than once with the same event id (allowed: at-least-once)

    def counts(self) -> Counter[Verdict]:
        return Counter(f.verdict for f in self.findings)

    @property
    def ok(self) -> bool:
        return not any(f.verdict in FAILURES for f in self.findings)

    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.verdict in FAILURES]

    def refused_valid(self) -> list[Finding]:
        """Valid events refused for good: not a loss (the provider was told), but worth a look."""
        return [f for f in self.findings if f.verdict is Verdict.REFUSED and not f.fault.startswith("poison")]

    def line(self) -> str:
        counts = self.counts()
        parts = [f"{v.value} {counts.get(v, 0)}" for v in Verdict]
        return f"{len(self.findings)} events: " + ", ".join(parts) + f"; topic redeliveries {self.redelivered}"


def _matches(want: Content, got: Content) -> str:
    diffs = [
        f"{name} {getattr(want, name)!r} != {getattr(got, name)!r}"
        for name in ("kind", "status", "direction", "counterpart")
        if getattr(want, name) != getattr(got, name)
    ]
    return "; ".join(diffs)


def _topic_problem(row: Stored, records: list[Published]) -> tuple[Verdict, str] | None:
    """The topic must hold versions 1..row.version of the interaction, nothing beyond, the latest like the row."""
    versions = {r.version for r in records}
    if not versions:
        return Verdict.LOST, "stored but not on the interactions topic"
    if max(versions) > row.version:
        return Verdict.DUPLICATED, f"topic has version {max(versions)} > stored version {row.version}"
    if max(versions) < row.version:
        return Verdict.LOST, f"topic stops at version {max(versions)} of {row.version}"
    latest = next(r for r in records if r.version == row.version)
    if (latest.status, latest.direction) != (row.content.status, row.content.direction):
        return Verdict.WRONG, f"topic says {latest.status}/{latest.direction}, table {row.content.status}"
    return None


def check(sent: Iterable[Sent], stored: Iterable[Stored], published: Iterable[Published], dead: set[str]) -> Report:
    """`dead`: external ids found on the dead-letter topic. Events are matched by (source, external id)."""
    rows: dict[tuple[str, str], list[Stored]] = defaultdict(list)
    for row in stored:
        rows[(row.source, row.external_id)].append(row)
    by_interaction: dict[str, list[Published]] = defaultdict(list)
    seen: Counter[tuple[str, int]] = Counter()
    for record in published:
        seen[(record.interaction_id, record.version)] += 1
        if seen[(record.interaction_id, record.version)] == 1:
            by_interaction[record.interaction_id].append(record)
    report = Report(redelivered=sum(n - 1 for n in seen.values()))
    sent_keys: set[tuple[str, str]] = set()
    for event in sent:
        key = (event.source, event.external_id)
        if key in sent_keys:
            continue  # the same provider event sent twice (a retry by hand) is judged once
        sent_keys.add(key)
        verdict, detail = _judge(event, rows.get(key, []), by_interaction, dead)
        report.findings.append(Finding(event.source, event.external_id, verdict, detail, event.fault))
    for key, found in rows.items():
        if key not in sent_keys:
            report.findings.append(Finding(key[0], key[1], Verdict.UNEXPECTED, f"{len(found)} row(s), never sent"))
    return report


def _judge(event: Sent, found: list[Stored], topic: dict[str, list[Published]], dead: set[str]) -> tuple[Verdict, str]:
    if event.content is None:
        return _judge_poison(event, found, dead)
    if len(found) > 1:
        return Verdict.DUPLICATED, f"{len(found)} interactions"
    if not found:
        if event.answer is Answer.ACKED:
            return Verdict.LOST, f"acknowledged with {event.code}, not stored"
        if event.answer is Answer.REFUSED:
            return Verdict.REFUSED, str(event.code)
        return Verdict.NEVER_ACKNOWLEDGED, f"last answer {event.code}"
    row = found[0]
    if event.answer is Answer.REFUSED:
        return Verdict.UNEXPECTED, f"refused with {event.code} but stored"
    if row.events > 1:
        return Verdict.DUPLICATED, f"{row.events} input events applied for one sent"
    if diff := _matches(event.content, row.content):
        return Verdict.WRONG, diff
    if problem := _topic_problem(row, topic.get(row.interaction_id, [])):
        return problem
    if event.answer is Answer.UNACKED:
        return Verdict.NEVER_ACKNOWLEDGED, "stored although never acknowledged"
    return Verdict.OK, ""


def _judge_poison(event: Sent, found: list[Stored], dead: set[str]) -> tuple[Verdict, str]:
    if found:
        return Verdict.UNEXPECTED, f"poison stored as {found[0].content}"
    if event.answer is Answer.PRODUCED:
        if event.external_id in dead:
            return Verdict.DEAD_LETTERED, ""
        return Verdict.LOST, "poison neither dead-lettered nor stored"
    if event.answer is Answer.ACKED:
        return Verdict.UNEXPECTED, f"poison acknowledged with {event.code}"
    return Verdict.REFUSED, str(event.code)
