-- Ingest's one-use tokens (Mailgun's `token`), shared by every ingest process: a token is claimed with
-- INSERT ... ON CONFLICT DO NOTHING before its event is published, released again if publishing fails, and
-- pruned once `expires_at` passes (after that the timestamp check refuses the request anyway).

CREATE TABLE ingest_replay_tokens (
    source      text        NOT NULL,
    token       text        NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (source, token)
);

CREATE INDEX ingest_replay_tokens_expiry ON ingest_replay_tokens (expires_at);
