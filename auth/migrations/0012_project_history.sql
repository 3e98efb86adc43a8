-- A project's history: one row per event on the project's subjects (`auth.project.<id>` and
-- under it), keyed by its stream sequence. People are kept as ids and named by email when read
-- (an erased one shows empty); `{user}` in a summary stands for `subject_user`. No secret is
-- ever written here.
CREATE TABLE project_audit (
    project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    sequence bigint NOT NULL,
    at timestamptz NOT NULL,
    actor uuid,
    action text NOT NULL,
    summary text NOT NULL,
    subject_user uuid,
    PRIMARY KEY (project_id, sequence)
);

-- A project's own retention in months; NULL is the instance's.
ALTER TABLE projects ADD COLUMN retention_months integer;
