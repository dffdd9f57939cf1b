"""Deals on an in-memory BatchState: opened by a person or by the `taken_into_work` outcome, one open per contact,
closed won or lost once; every change audited as the action's."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from schemas.actions import CloseDeal, OpenDeal, SetOutcome
from services.classifier.apply_actions import Rejected, apply_action
from tests.unit.classifier.factories import POLICY, T0, answered
from tests.unit.classifier.test_classify import apply_call, known_client, office

WHEN = T0 + timedelta(hours=1)


def base(n: str, **kw: Any) -> dict[str, Any]:
    return {"event_id": f"a-{n}", "actor_id": "ann", "occurred_at": WHEN, **kw}


def test_taken_into_work_opens_one_deal_for_the_contact_owned_by_its_owner() -> None:
    world = office()
    cid = known_client(world, owner="bob")
    ix = apply_call(world, answered("c1"))
    apply_action(world, SetOutcome(**base("1", interaction_id=ix.id, outcome="taken_into_work")), POLICY)
    [deal] = world.deals.values()
    assert (deal.contact_id, deal.manager_id, deal.status, deal.interaction_id) == (cid, "bob", "open", ix.id)
    assert deal.opened_at == WHEN
    assert deal.id == uuid.uuid5(uuid.UUID("5f0c7a52-3b8e-4d0a-9d0e-6c1f2b7d9a41"), "a-1"), "replays open the same"
    apply_action(world, SetOutcome(**base("2", interaction_id=ix.id, outcome="taken_into_work")), POLICY)
    assert len(world.deals) == 1, "a contact has one open deal"
    [audit] = [a for a in world.audit if a.entity == "deal"]
    assert audit.after is not None
    assert (audit.action_event_id, audit.before, audit.after["status"]) == ("a-1", None, "open")


def test_an_outcome_on_a_call_without_a_contact_opens_nothing() -> None:
    world = office()
    ix = apply_call(world, answered("c1", talk=200, counterpart="+14155550999"))
    ix.contact_id = None
    apply_action(world, SetOutcome(**base("1", interaction_id=ix.id, outcome="taken_into_work")), POLICY)
    assert not world.deals


def test_a_deal_is_opened_by_hand_and_closed_won_with_its_amount_once() -> None:
    world = office()
    cid = known_client(world, owner="cid")
    deal_id = uuid.uuid4()
    apply_action(world, OpenDeal(**base("1", deal_id=deal_id, contact_id=cid)), POLICY)
    with pytest.raises(Rejected, match="already has the open deal"):
        apply_action(world, OpenDeal(**base("2", deal_id=uuid.uuid4(), contact_id=cid)), POLICY)
    apply_action(world, CloseDeal(**base("3", deal_id=deal_id, result="won", amount=Decimal("1200.50"))), POLICY)
    deal = world.deals[deal_id]
    assert (deal.status, deal.amount, deal.closed_at, deal.manager_id) == ("won", Decimal("1200.50"), WHEN, "cid")
    with pytest.raises(Rejected, match="already won"):
        apply_action(world, CloseDeal(**base("4", deal_id=deal_id, result="lost")), POLICY)
    assert world.deals[deal_id].status == "won"
    assert [a.action_event_id for a in world.audit if a.entity == "deal"] == ["a-1", "a-3"]


def test_deals_of_unknown_contacts_and_unknown_deals_are_refused_and_change_nothing() -> None:
    world = office()
    with pytest.raises(Rejected, match="unknown or merged contact"):
        apply_action(world, OpenDeal(**base("1", deal_id=uuid.uuid4(), contact_id=uuid.uuid4())), POLICY)
    with pytest.raises(Rejected, match="unknown deal"):
        apply_action(world, CloseDeal(**base("2", deal_id=uuid.uuid4(), result="lost")), POLICY)
    assert not world.deals
    assert not world.audit


def test_an_amount_is_a_non_negative_decimal_with_two_places() -> None:
    with pytest.raises(ValueError, match="amount"):
        CloseDeal(**base("1", deal_id=uuid.uuid4(), result="won", amount=Decimal("-1")))
    with pytest.raises(ValueError, match="amount"):
        CloseDeal(**base("1", deal_id=uuid.uuid4(), result="won", amount=Decimal("1.005")))
