-- The classifier's domain: managers, contacts and their addresses, per-number statistics and lists, tasks,
-- meetings, plans, applied actions and the audit trail. The classifier is the only writer of all of them.
-- No foreign keys to managers: a manager id is validated when an action is applied (a bad one dead-letters),
-- and a batch must never fail half-way on a constraint the code could have checked.

CREATE TABLE managers (
    id          text        PRIMARY KEY,
    name        text        NOT NULL,
    email       text,                              -- lower-cased; inbound mail to it is this manager's
    on_duty     boolean     NOT NULL DEFAULT false,
    active      boolean     NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE manager_extensions (
    extension   text        PRIMARY KEY,           -- the PBX extension (or agent id) that rings this manager
    manager_id  text        NOT NULL REFERENCES managers (id) ON DELETE CASCADE
);

CREATE TABLE contacts (
    id                    uuid        PRIMARY KEY,
    owner_id              text,                    -- the manager who owns the client
    first_name            text,
    last_name             text,
    created_automatically boolean     NOT NULL,
    is_lead               boolean     NOT NULL DEFAULT false,
    version               integer     NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_owner ON contacts (owner_id);

-- One row per phone number (E.164) or email address (lower-cased); an address belongs to one contact.
CREATE TABLE contact_addresses (
    address       text        PRIMARY KEY,
    contact_id    uuid        NOT NULL REFERENCES contacts (id),
    kind          text        NOT NULL CHECK (kind IN ('phone', 'email')),
    undeliverable boolean     NOT NULL DEFAULT false,  -- a bounce came back for it
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contact_addresses_contact ON contact_addresses (contact_id);

-- Per-number statistics the wrong-number/spam score reads, updated online with every call.
CREATE TABLE number_stats (
    address      text        PRIMARY KEY,
    list         text        CHECK (list IN ('block', 'allow')),
    calls        integer     NOT NULL DEFAULT 0,
    short_calls  integer     NOT NULL DEFAULT 0,   -- answered calls shorter than the short-call limit
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Each manager's latest verdict on a number (one per manager: the same person saying it twice counts once).
CREATE TABLE number_marks (
    address     text        NOT NULL,
    manager_id  text        NOT NULL,
    verdict     text        NOT NULL CHECK (verdict IN ('wrong', 'spam', 'legit')),
    marked_at   timestamptz NOT NULL,
    PRIMARY KEY (address, manager_id)
);

ALTER TABLE interactions
    ADD COLUMN thread_id     uuid,
    ADD COLUMN internal      boolean NOT NULL DEFAULT false,
    ADD COLUMN spam_score    real,
    ADD COLUMN spam_reasons  text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN flag          text    CHECK (flag IN ('pending', 'confirmed', 'cleared')),
    ADD COLUMN outcome_by    text,
    ADD COLUMN outcome_at    timestamptz;
CREATE INDEX interactions_thread ON interactions (thread_id) WHERE thread_id IS NOT NULL;
CREATE INDEX interactions_email_message ON interactions (external_id) WHERE kind = 'email';
CREATE INDEX interactions_contact ON interactions (contact_id, started_at DESC) WHERE contact_id IS NOT NULL;

CREATE TABLE tasks (
    id                       uuid        PRIMARY KEY,
    kind                     text        NOT NULL CHECK (kind IN ('callback', 'reply', 'fill_contact_data')),
    status                   text        NOT NULL CHECK (status IN ('open', 'done', 'cancelled')),
    -- What makes two tasks "the same piece of work": `contact:<id>` or `address:<E.164>` for callbacks,
    -- `thread:<id>` for replies, `contact:<id>` for filling in data. At most one open task per (kind, key).
    dedupe_key               text        NOT NULL,
    contact_id               uuid,
    address                  text,                   -- the counterpart, for callbacks of unknown numbers
    interaction_id           uuid,                   -- the interaction that created it
    thread_id                uuid,
    assignee_id              text,
    reason                   text        NOT NULL,
    attempts                 integer     NOT NULL DEFAULT 1,
    created_at               timestamptz NOT NULL,   -- event time of what created it
    due_at                   timestamptz,
    closed_at                timestamptz,
    closed_by_interaction_id uuid,
    closed_by_manager_id     text,
    close_reason             text,
    response_s               integer,
    version                  integer     NOT NULL DEFAULT 1,
    updated_at               timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX tasks_one_open ON tasks (kind, dedupe_key) WHERE status = 'open';
CREATE INDEX tasks_open_assignee ON tasks (assignee_id) WHERE status = 'open';
CREATE INDEX tasks_contact ON tasks (contact_id) WHERE contact_id IS NOT NULL;

-- Which interactions a task answers: repeat misses add attempts, each interaction counted once.
CREATE TABLE task_interactions (
    task_id        uuid NOT NULL REFERENCES tasks (id),
    interaction_id uuid NOT NULL,
    PRIMARY KEY (task_id, interaction_id)
);
CREATE INDEX task_interactions_interaction ON task_interactions (interaction_id);

CREATE TABLE meetings (
    id              uuid        PRIMARY KEY,
    contact_id      uuid        NOT NULL REFERENCES contacts (id),
    interaction_id  uuid,
    manager_id      text        NOT NULL,
    meeting_date    date        NOT NULL,
    last_name       text        NOT NULL,
    first_name      text        NOT NULL,
    phone           text,
    email           text,
    topic           text        NOT NULL,
    result          text        NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX meetings_manager_date ON meetings (manager_id, meeting_date);

CREATE TABLE plans (
    manager_id  text        NOT NULL,
    metric      text        NOT NULL CHECK (metric IN ('contacts', 'meetings', 'deals_closed')),
    period      text        NOT NULL,
    target      integer     NOT NULL CHECK (target >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (manager_id, metric, period)
);

-- Every action seen, applied or refused, once (the dedupe key for actions produced twice).
CREATE TABLE applied_actions (
    event_id    text        PRIMARY KEY,
    kind        text        NOT NULL,
    actor_id    text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    accepted    boolean     NOT NULL,
    reason      text,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    "offset"    bigint      NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- Who changed what, when, from what to what: one row per entity an action changed.
CREATE TABLE audit_log (
    id              bigserial   PRIMARY KEY,
    action_event_id text        NOT NULL,
    action_kind     text        NOT NULL,
    actor_id        text        NOT NULL,
    acted_at        timestamptz NOT NULL,
    entity          text        NOT NULL,
    entity_id       text        NOT NULL,
    before          jsonb,
    after           jsonb,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id, id);
