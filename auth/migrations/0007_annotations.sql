-- Dated notes on a project, drawn on its trends chart. The author's row may be erased: the
-- note stays, without its author.
CREATE TABLE annotations (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    marked timestamptz NOT NULL,
    content text NOT NULL,
    created_by uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version bigint NOT NULL
);
CREATE INDEX annotations_project_marked ON annotations (project_id, marked);
