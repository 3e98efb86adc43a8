-- Saved insights (an analysis with its filters and range, the query as JSON text, kept exactly
-- as sent) and dashboards (ordered insight ids; an insight deleted since is left out when
-- read). The last writer's row may be erased: the insight stays, without them.
CREATE TABLE insights (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('trends', 'top', 'funnel', 'retention')),
    view text NOT NULL,
    query text NOT NULL,
    updated_by uuid REFERENCES users(id) ON DELETE SET NULL,
    updated_at timestamptz NOT NULL,
    version bigint NOT NULL
);
CREATE INDEX insights_project_name ON insights (project_id, name);
CREATE TABLE dashboards (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name text NOT NULL,
    insight_ids uuid[] NOT NULL,
    updated_by uuid REFERENCES users(id) ON DELETE SET NULL,
    updated_at timestamptz NOT NULL,
    version bigint NOT NULL
);
CREATE INDEX dashboards_project_name ON dashboards (project_id, name);
