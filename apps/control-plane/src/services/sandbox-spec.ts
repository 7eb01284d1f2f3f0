import { checkEgressPolicy, type EgressPolicy, errors, OPEN_EGRESS } from "@wrenn/common";
import type { Template } from "@wrenn/db";

/** Bounds of sandbox sizes; requests outside them are `invalid_argument` naming the limit. */
export const sandboxLimits = {
  vcpus: { min: 1, max: 8 },
  memoryMb: { min: 128, max: 16_384 },
  diskSizeMb: { min: 512, max: 102_400 },
  timeoutSec: { min: 0, max: 86_400 },
  execTimeoutSec: { min: 1, max: 3_600, default: 60 },
} as const;

/** Default inactivity timeout (auto-pause) of a new sandbox. */
export const DEFAULT_TIMEOUT_SEC = 300;
const DEFAULT_DISK_MB = 5120;

/**
 * What a caller asks for when creating a sandbox. The REST and E2B routes each map their
 * validated body to it; from here on the fields travel under these names (the database row,
 * the agent's `CreateSandboxRequest`, the agent's own `SandboxSpec`).
 */
export interface SandboxSpec {
  /** Template name (default `minimal`). */
  template?: string | undefined;
  vcpus?: number | undefined;
  memoryMb?: number | undefined;
  diskSizeMb?: number | undefined;
  /** Inactivity auto-pause in seconds; 0 = never. */
  timeoutSec?: number | undefined;
  metadata?: Record<string, string> | undefined;
  envs?: Record<string, string> | undefined;
  /** Outbound traffic rules (checked with E2B's rules); absent = everything may leave. */
  egress?: EgressPolicy | undefined;
}

/** A {@link SandboxSpec} checked against the limits and its template, every default applied. */
export type ResolvedSandboxSpec = {
  [K in Exclude<keyof SandboxSpec, "template">]-?: NonNullable<SandboxSpec[K]>;
};

/** `value` when it is an integer within `bounds`; `invalid_argument` naming `field` otherwise. */
export function checkRange(value: number, bounds: { min: number; max: number }, field: string): number {
  if (!Number.isInteger(value) || value < bounds.min || value > bounds.max) {
    throw errors.invalidArgument(`${field} must be an integer from ${bounds.min} to ${bounds.max}`);
  }
  return value;
}

/**
 * Checks `spec` against {@link sandboxLimits} and fills in what it leaves out: the template's
 * vCPUs and memory, the default disk and timeout, empty metadata and environment. A built
 * template's environment (its ENV steps) comes first, the request's overrides it; its disk size
 * is the default and the minimum (what the build's steps filled must fit).
 */
export function resolveSandboxSpec(spec: SandboxSpec, template: Template): ResolvedSandboxSpec {
  // A snapshot's vCPUs and memory are baked into its RAM image; requests cannot change them.
  const baked = template.type === "snapshot";
  return {
    vcpus: baked ? template.vcpus : checkRange(spec.vcpus ?? template.vcpus, sandboxLimits.vcpus, "vcpus"),
    memoryMb: baked
      ? template.memoryMb
      : checkRange(spec.memoryMb ?? template.memoryMb, sandboxLimits.memoryMb, "memory_mb"),
    diskSizeMb: templateDisk(spec.diskSizeMb, template),
    timeoutSec: checkRange(spec.timeoutSec ?? DEFAULT_TIMEOUT_SEC, sandboxLimits.timeoutSec, "timeout_sec"),
    metadata: spec.metadata ?? {},
    envs: { ...template.envs, ...spec.envs },
    egress: checkEgressPolicy(spec.egress ?? OPEN_EGRESS),
  };
}

function templateDisk(requested: number | undefined, template: Template): number {
  const size = checkRange(
    requested ?? template.diskSizeMb ?? DEFAULT_DISK_MB,
    sandboxLimits.diskSizeMb,
    "disk_size_mb",
  );
  if (template.diskSizeMb && size < template.diskSizeMb) {
    throw errors.invalidArgument(
      `disk_size_mb must be at least ${template.diskSizeMb} for template ${template.name}`,
    );
  }
  return size;
}
