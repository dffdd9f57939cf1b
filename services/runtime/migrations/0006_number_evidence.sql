-- Per-number evidence for the wrong-number/spam flag (issue 11, docs/wrong-numbers.md): evidence of a real client
-- (conversations of real length, our connected calls) and only the calls that point to a wrong number or spam.
ALTER TABLE number_stats
    ADD COLUMN evidence         integer NOT NULL DEFAULT 0,   -- conversations of real length, either direction
    ADD COLUMN evidence_reason  text,                         -- the latest of them, as a manager reads it
    ADD COLUMN one_ring         integer NOT NULL DEFAULT 0,   -- inbound calls that hung up within a ring or two
    ADD COLUMN brief_by         jsonb   NOT NULL DEFAULT '[]'; -- managers who answered it for 8-45 s
COMMENT ON COLUMN number_stats.calls IS 'inbound calls that carried neither evidence nor a signal';
COMMENT ON COLUMN number_stats.short_calls IS 'inbound calls a manager answered and ended within 15 s';

-- Unknown numbers that called lately, per range of close numbers (all but the last two digits): runs of
-- sequential numbers calling within a window are spam.
CREATE TABLE number_ranges (
    prefix      text        PRIMARY KEY,
    recent      jsonb       NOT NULL DEFAULT '[]',  -- [[number, called_at], ...], oldest first, a bounded few
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- What a flag says: a person who misdialled or a robocaller/telemarketer.
ALTER TABLE interactions ADD COLUMN flag_kind text CHECK (flag_kind IN ('wrong_number', 'spam'));
