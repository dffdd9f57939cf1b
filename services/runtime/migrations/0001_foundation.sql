-- Foundation: consumed offsets, the processed-event log, interactions and the outbox.

-- The classifier's consumed positions, written in the same transaction as the effects of the records
-- before them; on partition assignment the consumer seeks here (Kafka's committed offsets are advisory).
CREATE TABLE consumer_offsets (
    group_id    text        NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    next_offset bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, partition)
);

CREATE TABLE interactions (
    id             uuid        PRIMARY KEY,
    kind           text        NOT NULL CHECK (kind IN ('call', 'email')),
    source         text        NOT NULL,
    external_id    text        NOT NULL,          -- provider call id, or email thread root
    direction      text        NOT NULL,
    counterpart    text,                          -- E.164 number or lower-cased email address
    counterpart_raw text,
    our_address    text,
    agent          text,
    manager_id     text,
    contact_id     uuid,
    phase          text,
    auto_status    text,
    outcome        text,
    started_at     timestamptz,
    answered_at    timestamptz,
    ended_at       timestamptz,
    duration_s     integer,
    talk_s         integer,
    recording_ref  text,
    version        integer     NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, external_id)
);
CREATE INDEX interactions_started_at ON interactions (started_at DESC NULLS LAST, id);
CREATE INDEX interactions_counterpart ON interactions (counterpart);

-- Every input event applied, once: the dedupe key and the history a call's state is folded from.
CREATE TABLE interaction_events (
    event_id       text        PRIMARY KEY,
    interaction_id uuid        NOT NULL REFERENCES interactions (id),
    topic          text        NOT NULL,
    partition      integer     NOT NULL,
    "offset"       bigint      NOT NULL,
    occurred_at    timestamptz NOT NULL,
    payload        jsonb       NOT NULL,
    applied_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX interaction_events_interaction ON interaction_events (interaction_id);

-- Records to publish, written in the same transaction as the change they describe; a relay produces them.
CREATE TABLE outbox (
    id           bigserial   PRIMARY KEY,
    topic        text        NOT NULL,
    key          text        NOT NULL,
    payload      jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
