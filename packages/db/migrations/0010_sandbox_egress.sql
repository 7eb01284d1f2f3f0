-- Egress rules (issue #18 item 7): E2B's allow_internet_access and network.allowOut/denyOut,
-- enforced by the sandbox's host agent. allow_internet false = 0.0.0.0/0 denied; the lists hold
-- CIDRs, IPs or (allow_out only) domain names, each optionally with :port or :lo-hi, validated
-- by the control plane. The defaults are the open policy every existing sandbox had.
ALTER TABLE sandboxes
  ADD COLUMN allow_internet boolean NOT NULL DEFAULT true,
  ADD COLUMN allow_out jsonb NOT NULL DEFAULT '[]',
  ADD COLUMN deny_out jsonb NOT NULL DEFAULT '[]';
