-- One random id per deployment (per database): control planes of the same deployment share it,
-- two deployments on one Redis never do. It names the deployment's Redis event stream.
CREATE TABLE deployment_identity (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  singleton  boolean NOT NULL DEFAULT true UNIQUE CHECK (singleton),
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO deployment_identity DEFAULT VALUES;
