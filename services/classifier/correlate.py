"""Correlation (pure): all events and legs of one call fold into one state, a function of the *set* of events, so
order and duplicates cannot change it (rules in docs/classifier.md, "Calls: the state machine")."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.events import CallEvent, CallPhase, CallStatus, Direction

_INTERACTION_NS = uuid.UUID("5b0c8f7e-3a0c-4c51-9d0a-7f1b2c6e4d10")

PHASE_RANK: dict[CallPhase, int] = {"initiated": 0, "ringing": 1, "answered": 2, "recording": 2, "ended": 3}

# When legs of one call disagree, the most "successful" status wins: if anyone answered, it was answered.
STATUS_RANK: dict[CallStatus, int] = {
    "answered": 5,
    "voicemail": 4,
    "busy": 3,
    "abandoned": 2,
    "missed": 1,
    "failed": 0,
}


@functools.lru_cache(maxsize=1 << 16)
def interaction_id(source: str, call_id: str) -> uuid.UUID:
    """Deterministic, so concurrent or repeated deliveries of one call agree on its interaction. Cached: a call's
    3-4 events and its later batches ask again, and a uuid5 (SHA-1 plus UUID object) costs a few µs."""
    return uuid.uuid5(_INTERACTION_NS, f"call:{source}:{call_id}")


@dataclass(frozen=True, slots=True)
class CallState:
    phase: CallPhase
    auto_status: CallStatus | None
    direction: Direction
    counterpart: str | None
    counterpart_raw: str | None
    counterpart_is_e164: bool
    """The counterpart is the E.164 number ingest parsed (not a raw value it could not parse)."""
    our_address: str | None
    agent: str | None
    started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    duration_s: int | None
    talk_s: int | None
    recording_ref: str | None
    ring_s: int | None = None
    """How long it rang before it was answered or given up: from the events' times when a start was reported,
    else from the provider's duration (less the talk time); None when nothing says, never a guessed 0."""
    rang: tuple[str, ...] = ()
    """The agents whose phones rang, by first ring time; the last one is "the last manager whose phone rang"."""


def _best_status(statuses: list[CallStatus]) -> CallStatus | None:
    best: CallStatus | None = None
    for status in statuses:
        if best is None or STATUS_RANK[status] > STATUS_RANK[best]:
            best = status
    return best


def _canonical_order(event: CallEvent) -> tuple[int, datetime, int, str]:
    return (PHASE_RANK[event.phase], event.occurred_at, event.sequence or 0, event.event_id)


def fold_call(events: Iterable[CallEvent]) -> CallState:
    ordered = sorted(events, key=_canonical_order)
    if not ordered:
        raise ValueError("a call has at least one event")
    last = ordered[-1]
    phases: list[CallPhase] = [e.phase for e in ordered if e.phase != "recording"]
    phase: CallPhase = max(phases, key=PHASE_RANK.__getitem__) if phases else "initiated"
    answered_times = [
        t for e in ordered for t in (e.answered_at, e.occurred_at if e.phase == "answered" else None) if t is not None
    ]
    ended_times = [
        t for e in ordered for t in (e.ended_at, e.occurred_at if e.phase == "ended" else None) if t is not None
    ]
    started_times = [e.started_at or e.occurred_at for e in ordered]
    durations = [e.duration_s for e in ordered if e.duration_s is not None]
    if ended_times and durations and all(e.phase in ("ended", "recording") and e.started_at is None for e in ordered):
        # Only the final event arrived: the call started its duration before it ended, not when it ended.
        started_times.append(max(ended_times) - timedelta(seconds=max(durations)))
    statuses: list[CallStatus] = [e.status for e in ordered if e.status is not None]
    answered_at = min(answered_times) if answered_times else None
    status: CallStatus | None = _best_status(statuses)
    rang = _rang_agents(ordered)
    if status is None and phase == "ended":
        if answered_at is not None:
            status = "answered"
        elif rang or any(e.phase == "ringing" for e in ordered):
            status = "missed"
        elif any(e.phase == "initiated" for e in ordered):
            status = "abandoned"  # the call reached us and ended before any agent's phone rang
        else:
            status = "missed"  # only the final event: nothing says the caller gave up before ringing
    with_counterpart = [e for e in ordered if e.counterpart is not None]
    counterpart = with_counterpart[-1].counterpart if with_counterpart else None
    with_ours = [e for e in ordered if e.our_number is not None]
    ours = with_ours[-1].our_number if with_ours else None
    agents: list[str | None] = [e.agent for e in ordered if e.agent]
    answering_agents: list[str | None] = [e.agent for e in ordered if e.agent and e.phase == "answered"]
    talks = [e.talk_s for e in ordered if e.talk_s is not None]
    recordings = [e.recording_ref for e in ordered if e.recording_ref]
    return CallState(
        phase=phase,
        auto_status=status,
        direction=last.direction if last.direction != "unknown" else ordered[0].direction,
        counterpart=(counterpart.e164 or counterpart.raw) if counterpart else None,
        counterpart_raw=counterpart.raw if counterpart else None,
        counterpart_is_e164=counterpart is not None and counterpart.e164 is not None,
        our_address=(ours.e164 or ours.extension or ours.raw) if ours else None,
        agent=(answering_agents or agents or [None])[-1],
        started_at=min(started_times),
        answered_at=answered_at,
        ended_at=max(ended_times) if ended_times else None,
        duration_s=max(durations) if durations else None,
        talk_s=max(talks) if talks else None,
        recording_ref=recordings[-1] if recordings else None,
        ring_s=_ring_seconds(ordered, status, answered_at, max(ended_times) if ended_times else None, durations, talks),
        rang=rang,
    )


def _rang_agents(ordered: list[CallEvent]) -> tuple[str, ...]:
    first_ring: dict[str, tuple[datetime, str]] = {}
    for e in ordered:
        if e.agent and e.phase in ("ringing", "answered"):
            key = (e.occurred_at, e.event_id)
            if e.agent not in first_ring or key < first_ring[e.agent]:
                first_ring[e.agent] = key
    return tuple(agent for agent, _ in sorted(first_ring.items(), key=lambda item: (item[1], item[0])))


def _ring_seconds(
    ordered: list[CallEvent],
    status: CallStatus | None,
    answered_at: datetime | None,
    ended_at: datetime | None,
    durations: list[int],
    talks: list[int],
) -> int | None:
    """A PBX that sends only the final event reports no start time, so its ring time is its duration (less the
    talk time when answered); with neither, the ring time is unknown."""
    starts = [e.started_at for e in ordered if e.started_at is not None]
    starts += [e.occurred_at for e in ordered if e.phase in ("initiated", "ringing")]
    until = answered_at or ended_at
    if starts and until is not None:
        return max(0, int((until - min(starts)).total_seconds()))
    if not durations:
        return None
    if status != "answered":
        return max(durations)
    return max(0, max(durations) - max(talks)) if talks else None
