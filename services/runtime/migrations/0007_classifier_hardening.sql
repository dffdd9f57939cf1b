-- Classifier hardening (issue 8): dead letters with their reason in Kafka headers, outbox rows the relay gave up
-- on, outbox pruning, and the audit of offset ranges skipped on purpose or found missing from the log.

-- Kafka headers of an outbox record (header name → text value); NULL for records without headers.
ALTER TABLE outbox ADD COLUMN headers jsonb;
-- Why the relay could never produce this row (too large, invalid): it was dead-lettered instead.
ALTER TABLE outbox ADD COLUMN failed_reason text;
-- Pruning deletes relayed rows oldest first.
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Every range of a partition's offsets the classifier did not apply: found below the log start (retention
-- passed it), above the log end (topic recreated), or skipped by an operator (`offsets skip`).
CREATE TABLE offset_gaps (
    id          bigserial   PRIMARY KEY,
    group_id    text        NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    from_offset bigint      NOT NULL,
    to_offset   bigint      NOT NULL,
    reason      text        NOT NULL CHECK (reason IN ('below_log_start', 'above_log_end', 'operator_skip')),
    detail      text        NOT NULL DEFAULT '',
    recorded_at timestamptz NOT NULL DEFAULT now()
);
