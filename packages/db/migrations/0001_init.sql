-- Wrenn initial schema. UUID primary keys everywhere; ids get their prefixes
-- (usr-, team-, key-, …) only at the API boundary.

CREATE TABLE users (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email         text NOT NULL,
  name          text NOT NULL DEFAULT '',
  password_hash text,
  is_admin      boolean NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
-- Emails are unique regardless of case; lookups use lower(email).
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE INDEX users_email_prefix_idx ON users (lower(email) text_pattern_ops);

CREATE TABLE teams (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name       text NOT NULL,
  -- Immutable 12-hex slug (a1b2c3-d1e2f3); stays reserved after a soft delete.
  slug       text NOT NULL UNIQUE CHECK (slug ~ '^[0-9a-f]{6}-[0-9a-f]{6}$'),
  is_byoc    boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);

CREATE TABLE users_teams (
  user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  team_id    uuid NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  role       text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  is_default boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, team_id)
);
CREATE INDEX users_teams_team_idx ON users_teams (team_id);

CREATE TABLE team_api_keys (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  team_id      uuid NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  name         text NOT NULL,
  key_hash     text NOT NULL UNIQUE,
  key_prefix   text NOT NULL,
  created_by   uuid REFERENCES users(id) ON DELETE SET NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz
);
CREATE INDEX team_api_keys_team_idx ON team_api_keys (team_id, created_at);

CREATE TABLE oauth_providers (
  provider         text NOT NULL,
  provider_user_id text NOT NULL,
  user_id          uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  email            text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, provider_user_id)
);
CREATE INDEX oauth_providers_user_idx ON oauth_providers (user_id);

CREATE TABLE admin_permissions (
  user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  permission text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, permission)
);

CREATE TABLE audit_logs (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  team_id       uuid REFERENCES teams(id) ON DELETE CASCADE,
  actor_type    text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system', 'host')),
  actor_id      text NOT NULL,
  actor_name    text NOT NULL DEFAULT '',
  resource_type text NOT NULL,
  resource_id   text NOT NULL DEFAULT '',
  action        text NOT NULL,
  scope         text NOT NULL CHECK (scope IN ('team', 'admin')),
  status        text NOT NULL CHECK (status IN ('success', 'info', 'warning', 'error')),
  metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_logs_team_page_idx ON audit_logs (team_id, created_at DESC, id DESC);

-- Hosts (issue: hosts + scheduling). Created now so later migrations only add.
CREATE TABLE hosts (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  type              text NOT NULL CHECK (type IN ('regular', 'byoc')),
  team_id           uuid REFERENCES teams(id) ON DELETE CASCADE,
  provider          text NOT NULL DEFAULT '',
  availability_zone text NOT NULL DEFAULT '',
  arch              text NOT NULL DEFAULT '',
  cpu_count         integer NOT NULL DEFAULT 0,
  memory_mb         integer NOT NULL DEFAULT 0,
  disk_gb           integer NOT NULL DEFAULT 0,
  address           text NOT NULL DEFAULT '',
  status            text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'online', 'offline', 'unreachable', 'draining')),
  last_heartbeat_at timestamptz,
  cert_fingerprint  text,
  cert_expires_at   timestamptz,
  metadata          jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_by        uuid REFERENCES users(id) ON DELETE SET NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hosts_team_idx ON hosts (team_id);

CREATE TABLE host_tokens (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  host_id    uuid NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  created_by uuid REFERENCES users(id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at    timestamptz
);

CREATE TABLE host_refresh_tokens (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  host_id    uuid NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX host_refresh_tokens_host_idx ON host_refresh_tokens (host_id);

CREATE TABLE host_tags (
  host_id uuid NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  tag     text NOT NULL,
  PRIMARY KEY (host_id, tag)
);

CREATE TABLE templates (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  team_id    uuid NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  name       text NOT NULL,
  type       text NOT NULL CHECK (type IN ('snapshot', 'image')),
  vcpus      integer NOT NULL DEFAULT 1,
  memory_mb  integer NOT NULL DEFAULT 512,
  size_bytes bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (team_id, name)
);

CREATE TABLE sandboxes (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  team_id           uuid NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  host_id           uuid REFERENCES hosts(id) ON DELETE SET NULL,
  template          text NOT NULL DEFAULT 'minimal',
  template_id       uuid,
  state             text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'starting', 'running', 'paused', 'stopped', 'missing', 'error')),
  vcpus             integer NOT NULL DEFAULT 1,
  memory_mb         integer NOT NULL DEFAULT 512,
  disk_size_mb      integer NOT NULL DEFAULT 5120,
  timeout_sec       integer NOT NULL DEFAULT 0,
  metadata          jsonb NOT NULL DEFAULT '{}'::jsonb,
  envd_access_token text,
  host_ip           text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  started_at        timestamptz,
  last_active_at    timestamptz,
  last_updated      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sandboxes_team_idx ON sandboxes (team_id, created_at DESC, id DESC);
CREATE INDEX sandboxes_host_idx ON sandboxes (host_id);

CREATE TABLE template_builds (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name          text NOT NULL,
  base_template text NOT NULL DEFAULT 'minimal',
  recipe        jsonb NOT NULL DEFAULT '[]'::jsonb,
  healthcheck   text,
  vcpus         integer NOT NULL DEFAULT 1,
  memory_mb     integer NOT NULL DEFAULT 512,
  skip_pre_post boolean NOT NULL DEFAULT false,
  status        text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'running', 'success', 'failed', 'cancelled')),
  current_step  integer NOT NULL DEFAULT 0,
  total_steps   integer NOT NULL DEFAULT 0,
  logs          jsonb NOT NULL DEFAULT '[]'::jsonb,
  error         text,
  sandbox_id    uuid,
  host_id       uuid,
  template_id   uuid,
  created_by    uuid REFERENCES users(id) ON DELETE SET NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,
  completed_at  timestamptz
);

-- Team-level aggregate sampled every 10 s (stats page).
CREATE TABLE sandbox_metrics_snapshots (
  team_id       uuid NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  sampled_at    timestamptz NOT NULL,
  running_count integer NOT NULL DEFAULT 0,
  vcpus_reserved integer NOT NULL DEFAULT 0,
  memory_mb_reserved integer NOT NULL DEFAULT 0,
  PRIMARY KEY (team_id, sampled_at)
);

-- Per-sandbox points flushed from the host agent's ring buffers on pause/destroy.
CREATE TABLE sandbox_metric_points (
  sandbox_id uuid NOT NULL,
  tier       text NOT NULL CHECK (tier IN ('10m', '2h', '24h')),
  ts         timestamptz NOT NULL,
  cpu_pct    double precision NOT NULL DEFAULT 0,
  mem_bytes  bigint NOT NULL DEFAULT 0,
  disk_bytes bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (sandbox_id, tier, ts)
);

CREATE TABLE channels (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  team_id          uuid NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  name             text NOT NULL,
  provider         text NOT NULL,
  -- AES-256-GCM ciphertext of the provider secrets; never returned by the API.
  config_encrypted bytea NOT NULL,
  events           text[] NOT NULL DEFAULT '{}',
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX channels_team_idx ON channels (team_id);

-- The platform team (all-zeros UUID) owns shared templates; it has no members.
INSERT INTO teams (id, name, slug) VALUES ('00000000-0000-0000-0000-000000000000', 'Platform', '000000-000000');
-- The built-in `minimal` template (protected from deletion by the template service).
INSERT INTO templates (id, team_id, name, type, vcpus, memory_mb)
VALUES ('00000000-0000-0000-0000-000000000000', '00000000-0000-0000-0000-000000000000', 'minimal', 'image', 1, 512);
