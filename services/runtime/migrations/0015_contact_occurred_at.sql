-- A new contact counts on the day of the event that created it (contacts_new), not the day the classifier stored it:
-- a backlog replayed after an outage lands on the days its calls happened, and a recomputation from the tables agrees.
ALTER TABLE contacts ADD COLUMN occurred_at timestamptz;
-- Contacts stored before: the time of their first interaction (the call or mail that created them), else when stored.
UPDATE contacts c SET occurred_at = coalesce(
    (SELECT min(coalesce(i.ended_at, i.started_at)) FROM interactions i WHERE i.contact_id = c.id), c.created_at);
ALTER TABLE contacts ALTER COLUMN occurred_at SET DEFAULT now(), ALTER COLUMN occurred_at SET NOT NULL;
DROP INDEX contacts_owner_created;
CREATE INDEX contacts_owner_occurred ON contacts (owner_id, occurred_at) WHERE owner_id IS NOT NULL;
