"""Classifier, the only writer of domain tables. Consumes: touchpoint.calls.v1, touchpoint.emails.v1 and
touchpoint.actions.v1. Writes: interactions, contacts, number statistics, tasks, meetings, plans, the audit log,
consumed offsets and the outbox, in one PostgreSQL transaction per batch. Produces (outbox relay):
touchpoint.interactions.v1, touchpoint.tasks.v1; and touchpoint.dlq.v1."""
