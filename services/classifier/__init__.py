"""Classifier, the only writer of domain tables. Consumes: touchpoint.calls.v1 (and, as they are added,
emails and people's actions). Writes: interactions, their event log, consumed offsets and the outbox, in one
PostgreSQL transaction per batch. Produces: touchpoint.interactions.v1 (outbox relay), touchpoint.dlq.v1."""
