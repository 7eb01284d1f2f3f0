import type { InputFingerprint } from "./inputs.ts";

/** Bump when the manifest's shape changes incompatibly. */
export const MANIFEST_SCHEMA_VERSION = 1;

/** Size and checksum of one artifact in an image directory. */
export interface ArtifactInfo {
  file: string;
  bytes: number;
  sha256?: string;
}

/**
 * `manifest.json`, written last into an image directory: what the image is made of and
 * what a host must know to boot it.
 */
export interface ImageManifest {
  schemaVersion: number;
  hash: string;
  builtAt: string;
  buildDurationMs: number;
  kernelVersion: string;
  envdVersion: string;
  nodeVersion: string;
  debian: { suite: string; mirror: string; packages: string[]; versions: Record<string, string> };
  inputs: InputFingerprint;
  artifacts: {
    kernel: ArtifactInfo;
    initrd: ArtifactInfo;
    rootfs: ArtifactInfo & { allocatedBytes: number; contentBytes: number };
  };
  guest: {
    address: string;
    prefixLength: number;
    gateway: string;
    envdPort: number;
    defaultUser: string;
    kernelCmdline: string;
  };
}

/** True when `value` looks like an {@link ImageManifest} this code can use. */
export function isImageManifest(value: unknown): value is ImageManifest {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Partial<ImageManifest>;
  return (
    m.schemaVersion === MANIFEST_SCHEMA_VERSION &&
    typeof m.hash === "string" &&
    typeof m.builtAt === "string" &&
    typeof m.artifacts === "object" &&
    m.artifacts !== null
  );
}
