-- E2B's timeout (issue #18): an absolute end time for sandboxes created through /e2b, and what
-- happens then. on_timeout NULL = Wrenn's own inactivity timer (timeout_sec) governs the sandbox;
-- 'kill' or 'pause' = the control plane ends it at end_at (NULL while paused: no end until
-- connect/resume sets one). auto_resume: proxied traffic resumes it while paused.
ALTER TABLE sandboxes
  ADD COLUMN end_at timestamptz,
  ADD COLUMN on_timeout text CHECK (on_timeout IN ('kill', 'pause')),
  ADD COLUMN auto_resume boolean NOT NULL DEFAULT false;

-- The expiry pass reads only running sandboxes with an end time.
CREATE INDEX sandboxes_end_at_idx ON sandboxes (end_at) WHERE end_at IS NOT NULL AND state = 'running';
