-- Read-only keys for the query API, each its owner's: the key only as its SHA-256, live until
-- revoked or expired. `last_used_at` alone does not come from the stream: auth records there
-- what query reports on `usage.apikey.<id>`, so a rebuild empties it until the key's next use.
CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name text NOT NULL,
    prefix text NOT NULL,
    key_hash text NOT NULL UNIQUE,
    project_ids uuid[],
    expires_at timestamptz,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    last_used_at timestamptz,
    version bigint NOT NULL
);
CREATE INDEX api_keys_user ON api_keys (user_id, created_at);
