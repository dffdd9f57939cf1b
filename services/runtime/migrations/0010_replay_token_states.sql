-- A Mailgun retry is not a replay: a claim now remembers what was posted under the token (a digest of the
-- content fields; the timestamp and signature are checked on their own) and whether its event was accepted.
-- The same content again gets the first answer (200 once accepted, 503 while the first post is in flight, and a
-- stale in-flight claim is taken over); other content under a used token is refused as a replay (401).
-- Claims made before this migration have no digest and keep refusing every reuse.

ALTER TABLE ingest_replay_tokens
    ADD COLUMN digest     bytea,
    ADD COLUMN accepted   boolean     NOT NULL DEFAULT false,
    ADD COLUMN claimed_at timestamptz NOT NULL DEFAULT now();
