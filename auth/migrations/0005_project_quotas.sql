-- A project's own intake quota, per second across ingest replicas; NULL is ingest's default.
ALTER TABLE projects ADD COLUMN events_per_second bigint;
ALTER TABLE projects ADD COLUMN bytes_per_second bigint;
