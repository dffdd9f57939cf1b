"""Reporting, the human edge: pages and the JSON API where people work. Consumes: PostgreSQL (read-only for domain
tables) for the manager's queue, contacts, figures and the audit trail. Produces: people's actions to
touchpoint.actions.v1 (applied by the classifier). Writes: only its own tables (users, sessions, api_tokens,
login_failures)."""
