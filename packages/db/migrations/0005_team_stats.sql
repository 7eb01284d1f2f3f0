-- Team stats (issue #15): the sampler records paused sandboxes too, and prunes by age across
-- every team (60-day retention), which needs an index on the sample time alone.
ALTER TABLE sandbox_metrics_snapshots ADD COLUMN paused_count integer NOT NULL DEFAULT 0;
CREATE INDEX sandbox_metrics_snapshots_sampled_at_idx ON sandbox_metrics_snapshots (sampled_at);
