-- Projections of the AUTH stream. `version` is the stream sequence of the last event applied to
-- the row's subject, the expected-last-subject-sequence of the next command on it.
CREATE TABLE users (
    id uuid PRIMARY KEY,
    email text NOT NULL,
    email_hash text NOT NULL,
    name text NOT NULL,
    password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('user', 'analyst', 'admin')),
    disabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    last_login_at timestamptz,
    failed_logins bigint NOT NULL DEFAULT 0,
    version bigint NOT NULL
);

-- The stream enforces unique emails (the claim on auth.email.<hash>); this is the backstop.
CREATE UNIQUE INDEX users_email_hash ON users (email_hash);

CREATE TABLE sessions (
    family_id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    current_hash text NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_reason text,
    version bigint NOT NULL
);

-- Every refresh token a family ever had, so that reuse of a rotated one is recognised.
CREATE TABLE session_tokens (
    token_hash text PRIMARY KEY,
    family_id uuid NOT NULL REFERENCES sessions (family_id) ON DELETE CASCADE,
    rotated_at timestamptz
);
CREATE INDEX session_tokens_family ON session_tokens (family_id);
