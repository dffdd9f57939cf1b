-- Reports (issue 10): deals, and the figures per manager and local day the classifier keeps up to date in each
-- batch's transaction (services/classifier/update_figures.py), read by reporting and published to the report topics.

-- A deal: opened when a manager takes a client into work, closed won or lost (with an optional amount).
CREATE TABLE deals (
    id             uuid          PRIMARY KEY,
    contact_id     uuid          NOT NULL REFERENCES contacts (id),
    manager_id     text          NOT NULL,         -- whose deal it is: the contact's owner when it opened
    interaction_id uuid,                           -- the interaction it was taken into work from, if any
    status         text          NOT NULL CHECK (status IN ('open', 'won', 'lost')),
    amount         numeric(14, 2) CHECK (amount >= 0),
    opened_at      timestamptz   NOT NULL,         -- the action's time
    closed_at      timestamptz,
    version        integer       NOT NULL DEFAULT 1,
    updated_at     timestamptz   NOT NULL DEFAULT now(),
    CHECK ((status = 'open') = (closed_at IS NULL))
);
CREATE UNIQUE INDEX deals_one_open_per_contact ON deals (contact_id) WHERE status = 'open';
CREATE INDEX deals_manager_opened ON deals (manager_id, opened_at);
CREATE INDEX deals_manager_closed ON deals (manager_id, closed_at) WHERE closed_at IS NOT NULL;

-- What recomputing one manager-day reads, indexed by manager and time (the day's bounds in TOUCHPOINT_TIMEZONE).
CREATE INDEX interactions_manager_at ON interactions (manager_id, (coalesce(ended_at, started_at)))
    WHERE manager_id IS NOT NULL;
CREATE INDEX tasks_assignee_created ON tasks (assignee_id, created_at) WHERE assignee_id IS NOT NULL;
CREATE INDEX contacts_owner_created ON contacts (owner_id, created_at) WHERE owner_id IS NOT NULL;

-- One row per manager and local day: additive counts, and the response times the day's percentiles come from
-- (a week's or month's median is taken over the days' times, never averaged). `team` is the manager's team when
-- the row was last computed; team figures are sums of these rows.
CREATE TABLE manager_daily (
    manager_id           text          NOT NULL,
    day                  date          NOT NULL,
    team                 text,
    calls_in             integer       NOT NULL,
    calls_out            integer       NOT NULL,
    calls_answered       integer       NOT NULL,
    calls_missed         integer       NOT NULL,
    calls_abandoned      integer       NOT NULL,
    calls_wrong          integer       NOT NULL,
    callbacks_due        integer       NOT NULL,
    callbacks_within_sla integer       NOT NULL,
    callback_s           integer[]     NOT NULL,
    emails_in            integer       NOT NULL,
    emails_answered      integer       NOT NULL,
    reply_s              integer[]     NOT NULL,
    meetings             integer       NOT NULL,
    meetings_complete    integer       NOT NULL,
    contacts_new         integer       NOT NULL,
    contacts_complete    integer       NOT NULL,
    deals_opened         integer       NOT NULL,
    deals_won            integer       NOT NULL,
    deals_lost           integer       NOT NULL,
    deals_won_amount     numeric(16, 2) NOT NULL,
    version              integer       NOT NULL DEFAULT 1,
    updated_at           timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (manager_id, day)
);
CREATE INDEX manager_daily_day ON manager_daily (day, manager_id);
CREATE INDEX manager_daily_team_day ON manager_daily (team, day);

-- The team-days published to touchpoint.reports.team-daily.v1: a new record only when the team's figures changed
-- (a call moving between two managers of one team changes neither), each with the next version.
CREATE TABLE team_daily (
    team       text        NOT NULL,
    day        date        NOT NULL,
    digest     text        NOT NULL,
    version    integer     NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team, day)
);
