-- Notification channels: delivery state on the channel (what the dashboard shows and what
-- auto-disabling counts), and one row per event delivered (or not) to a channel.
ALTER TABLE channels
  ADD COLUMN enabled               boolean NOT NULL DEFAULT true,
  -- Why the channel was disabled ('' while enabled): 'auto: N consecutive failures' or 'user'.
  ADD COLUMN disabled_reason       text NOT NULL DEFAULT '',
  ADD COLUMN last_delivery_status  text,
  ADD COLUMN last_delivery_at      timestamptz,
  -- The last failure's short, secret-free description (HTTP status, timeout, refused address).
  ADD COLUMN last_error            text NOT NULL DEFAULT '',
  ADD COLUMN consecutive_failures  integer NOT NULL DEFAULT 0,
  ADD COLUMN created_by            uuid REFERENCES users(id) ON DELETE SET NULL,
  ADD CONSTRAINT channels_last_delivery_status_check
    CHECK (last_delivery_status IS NULL OR last_delivery_status IN ('delivered', 'failed'));
CREATE UNIQUE INDEX channels_team_name_idx ON channels (team_id, name);

CREATE TABLE channel_deliveries (
  channel_id  uuid NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
  -- The Redis stream id of the event (unique per event).
  event_id    text NOT NULL,
  team_id     uuid NOT NULL,
  event_type  text NOT NULL,
  status      text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts    integer NOT NULL DEFAULT 0,
  last_error  text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel_id, event_id)
);
CREATE INDEX channel_deliveries_recent_idx ON channel_deliveries (channel_id, created_at DESC);
