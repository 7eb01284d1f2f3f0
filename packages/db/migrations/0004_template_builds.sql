-- Template builds (issue #16). The 0001 `template_builds` table was never written to: it is
-- replaced by one scoped to a team, with the parsed spec, per-step progress and its own log table.
DROP TABLE template_builds;

CREATE TABLE template_builds (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Owner of the resulting template (the platform team for admin builds).
  team_id       uuid NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  -- Name of the template the build makes (replaces an existing one of the team on success).
  name          text NOT NULL,
  base_template text NOT NULL DEFAULT 'minimal',
  source        text NOT NULL CHECK (source IN ('recipe', 'dockerfile', 'steps')),
  -- The submitted text (recipe or Dockerfile), for display; '' for step lists.
  source_text   text NOT NULL DEFAULT '',
  -- The parsed spec: {steps, startCmd, readyCmd}.
  spec          jsonb NOT NULL,
  vcpus         integer NOT NULL,
  memory_mb     integer NOT NULL,
  disk_size_mb  integer NOT NULL,
  skip_pre_post boolean NOT NULL DEFAULT false,
  skip_cache    boolean NOT NULL DEFAULT false,
  status        text NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'building', 'ready', 'error', 'cancelled')),
  -- Steps finished so far (cached ones included) out of total_steps.
  current_step  integer NOT NULL DEFAULT 0,
  total_steps   integer NOT NULL DEFAULT 0,
  -- Per step: {index, description, status, cached, started_at, finished_at, exit_code}.
  steps         jsonb NOT NULL DEFAULT '[]'::jsonb,
  error         text,
  -- 1-based index of the step that failed (null when the failure was not a step's).
  failed_step   integer,
  -- The build sandbox while it exists, so a cancel or a restart can destroy it.
  sandbox_id    uuid,
  host_id       uuid,
  -- The template made (set on success).
  template_id   uuid,
  -- Audit actor that submitted it, e.g. 'usr-…' or 'key-…'.
  created_by    text NOT NULL DEFAULT '',
  created_at    timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,
  completed_at  timestamptz
);
CREATE INDEX template_builds_team_idx ON template_builds (team_id, created_at DESC);
CREATE INDEX template_builds_active_idx ON template_builds (status) WHERE status IN ('queued', 'building');

-- Build output, one row per chunk of a step's output or per message of the builder.
CREATE TABLE template_build_logs (
  id         bigserial PRIMARY KEY,
  build_id   uuid NOT NULL REFERENCES template_builds(id) ON DELETE CASCADE,
  -- 1-based step index; 0 for messages of the builder itself.
  step       integer NOT NULL DEFAULT 0,
  stream     text NOT NULL CHECK (stream IN ('system', 'stdout', 'stderr')),
  message    text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX template_build_logs_build_idx ON template_build_logs (build_id, id);

-- Files of the uploaded build context that COPY steps name; dropped when the build ends.
CREATE TABLE template_build_files (
  build_id uuid NOT NULL REFERENCES template_builds(id) ON DELETE CASCADE,
  path     text NOT NULL,
  mode     integer NOT NULL DEFAULT 420,
  content  bytea NOT NULL,
  PRIMARY KEY (build_id, path)
);

-- Cache layers: hidden snapshot templates of a build sandbox after a step, keyed by the hash of
-- the steps up to it. They live on the host that captured them (teams/{team_id}/{id}).
CREATE TABLE template_build_layers (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  team_id      uuid NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  cache_key    text NOT NULL,
  host_id      uuid NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  size_bytes   bigint NOT NULL DEFAULT 0,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (team_id, cache_key)
);

-- What a built template hands every sandbox started from it (ENV / USER / WORKDIR), and its disk.
ALTER TABLE templates
  ADD COLUMN envs            jsonb NOT NULL DEFAULT '{}'::jsonb,
  ADD COLUMN default_user    text,
  ADD COLUMN default_workdir text,
  ADD COLUMN disk_size_mb    integer;
