import type { CreateSandboxInput, Template } from "../../api/sandboxes.ts";

/** Bounds the control plane enforces (services/sandboxes.ts `sandboxLimits`), checked before sending. */
export const limits = {
  vcpus: { min: 1, max: 8 },
  memoryMb: { min: 128, max: 16_384 },
  diskSizeMb: { min: 512, max: 102_400 },
  timeoutSec: { min: 0, max: 86_400 },
} as const;

/** The Create dialog's fields as typed (strings, so half-typed numbers stay editable). */
export interface CreateFormValues {
  template: string;
  vcpus: string;
  memoryMb: string;
  diskSizeMb: string;
  timeoutSec: string;
  envs: string;
  metadata: string;
}

/** Field name → message. */
export type CreateFormErrors = Partial<Record<keyof CreateFormValues, string>>;

/** Fresh values: the template's own size, 5 GiB disk, 5 min inactivity timeout. */
export function initialValues(template?: Template): CreateFormValues {
  return {
    template: template?.name ?? "",
    vcpus: String(template?.vcpus ?? 1),
    memoryMb: String(template?.memory_mb ?? 512),
    diskSizeMb: "5120",
    timeoutSec: "300",
    envs: "",
    metadata: "",
  };
}

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses `KEY=value` lines (blank lines and `#` comments skipped). `strictKeys` demands shell
 * variable names (env vars); metadata keys may be any 1–128 characters.
 */
export function parsePairs(
  text: string,
  strictKeys: boolean,
): { pairs: Record<string, string>; error?: string } {
  const pairs: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) return { pairs, error: `Line ${i + 1}: write KEY=value.` };
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1);
    if (strictKeys && !ENV_KEY.test(key)) {
      return { pairs, error: `Line ${i + 1}: ${key} is not a valid variable name.` };
    }
    if (key.length > 128) return { pairs, error: `Line ${i + 1}: keys are at most 128 characters.` };
    if (value.length > 4096) return { pairs, error: `Line ${i + 1}: values are at most 4096 characters.` };
    if (key in pairs) return { pairs, error: `Line ${i + 1}: ${key} is set twice.` };
    pairs[key] = value;
  }
  return { pairs };
}

function intIn(value: string, { min, max }: { min: number; max: number }, what: string): number | string {
  if (!/^\d+$/.test(value.trim())) return `Enter a whole number of ${what}.`;
  const n = Number(value);
  if (n < min || n > max) return `Between ${min} and ${max} ${what}.`;
  return n;
}

/**
 * Checks the form and builds the request. A snapshot template's vCPUs and memory are baked into
 * its RAM image, so they are not sent (the server would ignore them anyway).
 */
export function buildCreateRequest(
  v: CreateFormValues,
  template: Template | undefined,
): { input?: CreateSandboxInput; errors: CreateFormErrors } {
  const errors: CreateFormErrors = {};
  const input: CreateSandboxInput = {};
  if (!v.template) errors.template = "Choose a template.";
  else input.template = v.template;
  const baked = template?.type === "snapshot";
  if (!baked) {
    const vcpus = intIn(v.vcpus, limits.vcpus, "vCPUs");
    if (typeof vcpus === "string") errors.vcpus = vcpus;
    else input.vcpus = vcpus;
    const mem = intIn(v.memoryMb, limits.memoryMb, "MiB");
    if (typeof mem === "string") errors.memoryMb = mem;
    else input.memory_mb = mem;
  }
  const disk = intIn(v.diskSizeMb, limits.diskSizeMb, "MiB");
  if (typeof disk === "string") errors.diskSizeMb = disk;
  else input.disk_size_mb = disk;
  const timeout = intIn(v.timeoutSec, limits.timeoutSec, "seconds");
  if (typeof timeout === "string") errors.timeoutSec = timeout;
  else input.timeout_sec = timeout;
  const envs = parsePairs(v.envs, true);
  if (envs.error) errors.envs = envs.error;
  else if (Object.keys(envs.pairs).length) input.envs = envs.pairs;
  const metadata = parsePairs(v.metadata, false);
  if (metadata.error) errors.metadata = metadata.error;
  else if (Object.keys(metadata.pairs).length) input.metadata = metadata.pairs;
  return Object.keys(errors).length ? { errors } : { input, errors };
}
