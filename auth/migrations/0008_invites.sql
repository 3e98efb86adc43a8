-- Invites to a project: the link's token only as its SHA-256; pending until used, withdrawn or
-- expired.
CREATE TABLE invites (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    email text NOT NULL,
    role text NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin')),
    token_hash text NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    created_by uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL,
    state text NOT NULL CHECK (state IN ('pending', 'accepted', 'revoked')),
    version bigint NOT NULL
);
CREATE INDEX invites_project ON invites (project_id, state);
