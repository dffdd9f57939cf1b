"""Classifier, the only writer of domain tables. Consumes touchpoint.calls.v1, .emails.v1 and .actions.v1.
Writes, per batch in one PostgreSQL transaction: interactions, contacts, numbers, tasks, audit, offsets, outbox.
Produces (outbox relay): touchpoint.interactions.v1, touchpoint.tasks.v1; and touchpoint.dlq.v1."""
