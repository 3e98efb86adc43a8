-- Who may read or manage a project, and how much (viewer, analyst, admin). A removed member
-- keeps its row with no role, so that its version (the stream sequence of its latest event) is
-- what the next change expects. A member of an erased user or a deleted project goes with it.
CREATE TABLE project_members (
    project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role text CHECK (role IN ('viewer', 'analyst', 'admin')),
    version bigint NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user ON project_members (user_id);
