-- The dashboard's "confirmation backlog growing" alert compares today's backlog with the one a day ago, which
-- needs the interactions confirmed since then: found by manager and confirmation time, not by a scan.
CREATE INDEX interactions_confirmed ON interactions (manager_id, outcome_at) WHERE outcome_at IS NOT NULL;
