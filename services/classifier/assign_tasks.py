"""Who gets a follow-up task and by when (pure): owner, else the last manager whose phone rang, else the on-duty
manager with the fewest open tasks; due after an SLA counted in business minutes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.classifier.policy import BusinessHours


@dataclass(frozen=True, slots=True)
class ManagerView:
    id: str
    on_duty: bool
    active: bool


def choose_assignee(
    owner_id: str | None,
    rang: Sequence[str],
    managers: Mapping[str, ManagerView],
    open_tasks: Mapping[str, int],
) -> str | None:
    """`rang`: the managers whose phones rang, oldest first; `open_tasks`: open task count per manager."""
    if owner_id is not None and (m := managers.get(owner_id)) is not None and m.active:
        return owner_id
    for manager_id in reversed(rang):
        if (m := managers.get(manager_id)) is not None and m.active:
            return manager_id
    on_duty = sorted((open_tasks.get(m.id, 0), m.id) for m in managers.values() if m.on_duty and m.active)
    return on_duty[0][1] if on_duty else None


def due_by(start: datetime, minutes: int, hours: BusinessHours) -> datetime:
    """`start` plus `minutes` of business time. Work appearing out of hours starts counting at the next opening."""
    if minutes <= 0:
        return start
    remaining = timedelta(minutes=minutes)
    local = start.astimezone(hours.zone)
    for _ in range(3660):  # ten years of days: a bound, never reached with a sane SLA
        day = local.date()
        opens = datetime.combine(day, hours.opens, tzinfo=hours.zone)
        closes = datetime.combine(day, hours.closes, tzinfo=hours.zone)
        if day.weekday() in hours.days and local < closes:
            begin = max(local, opens)
            available = closes - begin
            if remaining <= available:
                return (begin + remaining).astimezone(start.tzinfo)
            remaining -= available
        local = datetime.combine(day + timedelta(days=1), hours.opens, tzinfo=hours.zone)
    raise ValueError("business hours never open")
