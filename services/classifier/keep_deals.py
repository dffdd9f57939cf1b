"""Deals in and out of the batch state: the deals of the batch's contacts and those its actions name, locked; then
the deals that differ from them, upserted (the classifier is the only writer of `deals`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

from schemas.actions import Action, CloseDeal, OpenDeal
from services.classifier.batch_state import BatchState, Deal
from services.classifier.map_rows import Table
from services.runtime.postgres import Connection

DEALS = Table(
    "deals",
    (
        ("id", "uuid"),
        ("contact_id", "uuid"),
        ("manager_id", "text"),
        ("interaction_id", "uuid"),
        ("status", "text"),
        ("amount", "numeric"),
        ("opened_at", "timestamptz"),
        ("closed_at", "timestamptz"),
    ),
)


async def load_deals(conn: Connection, state: BatchState, actions: Iterable[Action]) -> dict[uuid.UUID, Deal]:
    """Loads the deals into `state`; returns them as loaded (immutable values, so the dict is the snapshot)."""
    acts = list(actions)
    named = sorted({a.deal_id for a in acts if isinstance(a, OpenDeal | CloseDeal)})
    contacts = sorted(set(state.contacts) | {a.contact_id for a in acts if isinstance(a, OpenDeal)})
    for row in await conn.fetch(
        f"""SELECT {", ".join(DEALS.names)} FROM deals
            WHERE id = ANY($1::uuid[]) OR contact_id = ANY($2::uuid[]) ORDER BY id FOR UPDATE""",  # noqa: S608 - fixed columns
        named,
        contacts,
    ):
        state.deals[row["id"]] = Deal(**{c: row[c] for c in DEALS.names})
    return dict(state.deals)


async def write_deals(conn: Connection, state: BatchState, loaded: Mapping[uuid.UUID, Deal]) -> list[Deal]:
    """Upserts the deals that are new or changed; returns them."""
    changed = sorted((d for d in state.deals.values() if loaded.get(d.id) != d), key=lambda d: d.id)
    # Closed rows first: a deal closed and the contact's next one opened in one batch share the one-open index.
    for group in ([d for d in changed if d.status != "open"], [d for d in changed if d.status == "open"]):
        if group:
            await conn.execute(_UPSERT, *DEALS.arrays([tuple(getattr(d, c) for c in DEALS.names) for d in group]))
    return changed


_UPSERT = f"""INSERT INTO deals ({", ".join(DEALS.names)}) SELECT * FROM {DEALS.unnest()}
    ON CONFLICT (id) DO UPDATE SET status = excluded.status, amount = excluded.amount, closed_at = excluded.closed_at,
        manager_id = excluded.manager_id, version = deals.version + 1, updated_at = now()"""  # noqa: S608 - fixed columns
