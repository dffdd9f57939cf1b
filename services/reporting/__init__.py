"""Reporting, the human edge and read side. Consumes: PostgreSQL (read-only) for the manager queue, the
supervisor dashboard, reports and exports. Produces: people's actions to touchpoint.actions.v1 (applied by
the classifier). Writes: no domain table."""
