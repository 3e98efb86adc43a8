-- Password-reset links an instance admin issued: the token only as its SHA-256; live until used
-- or expired. An erased user takes theirs with them.
CREATE TABLE password_resets (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash text NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    created_by uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL,
    used_at timestamptz,
    version bigint NOT NULL
);
CREATE INDEX password_resets_user ON password_resets (user_id);
