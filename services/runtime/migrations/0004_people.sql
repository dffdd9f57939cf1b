-- People: reporting's own tables (accounts, sessions, API tokens, login throttling), and the columns the
-- classifier fills for the manager's queue (the suggested outcome with its reasons, a manager's team).
-- Reporting writes only the first four; domain tables keep their one writer, the classifier.

CREATE TABLE users (
    id             uuid        PRIMARY KEY,
    email          text        NOT NULL UNIQUE,        -- lower-cased; the login name
    name           text,
    role           text        NOT NULL CHECK (role IN ('manager', 'operator', 'supervisor', 'analyst', 'admin')),
    manager_id     text,                               -- the managers row a manager account works as
    team           text,                               -- a supervisor's team; a manager's team
    password_hash  text        NOT NULL,               -- argon2id, parameters in the hash
    active         boolean     NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    deactivated_at timestamptz,
    CHECK (role <> 'manager' OR manager_id IS NOT NULL),
    CHECK (role <> 'supervisor' OR team IS NOT NULL)
);
CREATE UNIQUE INDEX users_one_active_per_manager ON users (manager_id) WHERE manager_id IS NOT NULL AND active;
CREATE INDEX users_team ON users (team) WHERE team IS NOT NULL;

-- Browser sessions; the cookie holds a random token, the table only its SHA-256 (a leaked table opens nothing).
CREATE TABLE sessions (
    token_hash  text        PRIMARY KEY,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Personal API tokens for scripts (`Authorization: Bearer`), stored as SHA-256 like sessions.
CREATE TABLE api_tokens (
    token_hash   text        PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Failed logins, per login name and per client address, for throttling; old rows are pruned on the way.
CREATE TABLE login_failures (
    id         bigserial   PRIMARY KEY,
    email      text        NOT NULL,
    client     text        NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_email ON login_failures (email, failed_at);
CREATE INDEX login_failures_client ON login_failures (client, failed_at);

-- Filled by the classifier: the outcome the queue offers with one click, and why.
ALTER TABLE interactions
    ADD COLUMN suggested_outcome  text,
    ADD COLUMN suggestion_reasons text[] NOT NULL DEFAULT '{}';
CREATE INDEX interactions_awaiting ON interactions (manager_id, started_at DESC) WHERE outcome IS NULL;

ALTER TABLE managers ADD COLUMN team text;
