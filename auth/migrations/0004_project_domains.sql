-- Site domains whose Plausible events belong to the project.
ALTER TABLE projects ADD COLUMN domains text[] NOT NULL DEFAULT '{}';
