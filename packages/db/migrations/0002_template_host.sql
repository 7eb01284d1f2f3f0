-- A snapshot or flattened-image template lives on the disk of the host that captured it:
-- new sandboxes from it must be placed there, and deleting it needs that host online.
-- NULL for templates every host can build itself (the platform's `minimal`).
ALTER TABLE templates ADD COLUMN host_id uuid REFERENCES hosts(id) ON DELETE SET NULL;
CREATE INDEX templates_team_idx ON templates (team_id, created_at DESC);
