-- Whether a call's counterpart is the E.164 number ingest parsed, rather than a raw value it could not parse:
-- only then is it a phone number for contacts, per-number statistics and marks.
ALTER TABLE interactions ADD COLUMN counterpart_is_e164 boolean NOT NULL DEFAULT false;
-- Calls stored before this column existed were judged by the form of the stored value; keep that judgement.
UPDATE interactions SET counterpart_is_e164 = true WHERE kind = 'call' AND counterpart ~ '^\+[1-9][0-9]{1,14}$';
