"""Ingest, the machine edge. Consumes: provider webhooks (HTTP) and mail (SMTP).
Produces: verified, normalized `CallEvent`s to touchpoint.calls.v1 and `EmailEvent`s to touchpoint.emails.v1,
answering 2xx/250 only after Kafka acknowledged. Writes: nothing else (no database)."""
