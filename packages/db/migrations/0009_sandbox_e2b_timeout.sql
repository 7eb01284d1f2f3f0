-- E2B's auto-resume (issue #18): a sandbox woken by proxied traffic runs the timeout it was created
-- with (at least five minutes) from the resume, so the timeout given at creation is kept.
ALTER TABLE sandboxes ADD COLUMN e2b_timeout_sec integer CHECK (e2b_timeout_sec >= 0);
