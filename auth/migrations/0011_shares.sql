-- Shared links to a dashboard: the token only as its SHA-256, the password (if any) as its
-- argon2id hash; live until revoked. A deleted dashboard takes its links with it.
CREATE TABLE shares (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    dashboard_id uuid NOT NULL REFERENCES dashboards(id) ON DELETE CASCADE,
    prefix text NOT NULL,
    token_hash text NOT NULL UNIQUE,
    password_hash text,
    embed_origins text[] NOT NULL,
    created_by uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    version bigint NOT NULL
);
CREATE INDEX shares_dashboard ON shares (dashboard_id, created_at);
