-- People's changes to the client base, applied by the classifier: consent to campaigns per contact and channel
-- (the latest word stands), and the record a merged duplicate keeps of the contact it was merged into.

CREATE TABLE contact_consents (
    contact_id   uuid        NOT NULL REFERENCES contacts (id),
    channel      text        NOT NULL CHECK (channel IN ('email', 'phone', 'sms')),
    granted      boolean     NOT NULL,
    source       text        NOT NULL,               -- how it was given, in the operator's words
    recorded_by  text        NOT NULL,               -- the person who recorded it
    recorded_at  timestamptz NOT NULL,               -- when they did (the action's time)
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_id, channel)
);

-- A duplicate merged into another contact keeps its row (the audit trail names it) but nothing else.
ALTER TABLE contacts ADD COLUMN merged_into uuid REFERENCES contacts (id);
