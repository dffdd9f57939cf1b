"""Deals (pure): `open_deal`, `close_deal`, and the deal a `taken_into_work` outcome opens; each change audited as
the action's. One open deal per contact; a deal belongs to the contact's owner (else the interaction's manager,
else the person who acted). A refusal is returned as its reason (apply_actions.py raises it as `Rejected`), before
anything changes."""

from __future__ import annotations

import uuid

from schemas.actions import CloseDeal, OpenDeal, SetOutcome
from services.classifier.batch_state import BatchState, Deal, Interaction

# Deals opened by an outcome get an id derived from the action's, so a replay opens the same deal.
_DEAL_IDS = uuid.UUID("5f0c7a52-3b8e-4d0a-9d0e-6c1f2b7d9a41")


def open_deal(state: BatchState, action: OpenDeal) -> str | None:
    contact = state.contacts.get(action.contact_id)
    if contact is None or contact.merged_into is not None:
        return f"unknown or merged contact {action.contact_id}"
    if action.deal_id in state.deals:
        return f"deal {action.deal_id} exists"
    ix = state.interactions.get(action.interaction_id) if action.interaction_id else None
    if action.interaction_id is not None and (ix is None or ix.phase is None):
        return f"unknown interaction {action.interaction_id}"
    if (current := open_deal_of(state, contact.id)) is not None:
        return f"contact {contact.id} already has the open deal {current.id}"
    owner = contact.owner_id or (ix.manager_id if ix else None) or action.actor_id
    _put(state, Deal(action.deal_id, contact.id, owner, action.interaction_id, "open", None, action.occurred_at))
    return None


def opened_by_outcome(state: BatchState, action: SetOutcome, ix: Interaction) -> None:
    """`taken_into_work` opens a deal for the interaction's contact, unless it has one open (or no contact)."""
    if ix.contact_id is None or (contact := state.contacts.get(ix.contact_id)) is None:
        return
    if contact.merged_into is not None or open_deal_of(state, contact.id) is not None:
        return
    deal_id = uuid.uuid5(_DEAL_IDS, action.event_id)
    owner = contact.owner_id or ix.manager_id or action.actor_id
    _put(state, Deal(deal_id, contact.id, owner, ix.id, "open", None, action.occurred_at))


def close_deal(state: BatchState, action: CloseDeal) -> str | None:
    deal = state.deals.get(action.deal_id)
    if deal is None:
        return f"unknown deal {action.deal_id}"
    if deal.status != "open":
        return f"deal {deal.id} is already {deal.status}"
    closed = Deal(deal.id, deal.contact_id, deal.manager_id, deal.interaction_id, action.result, action.amount,
                  deal.opened_at, action.occurred_at)  # fmt: skip
    _put(state, closed)
    return None


def open_deal_of(state: BatchState, contact_id: uuid.UUID) -> Deal | None:
    return next((d for d in state.deals.values() if d.contact_id == contact_id and d.status == "open"), None)


def _put(state: BatchState, deal: Deal) -> None:
    previous = state.deals.get(deal.id)
    state.deals[deal.id] = deal
    state.audit_change("deal", deal.id, previous.snapshot() if previous else None, deal.snapshot())
