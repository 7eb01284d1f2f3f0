import { createRequire } from "node:module";

type PtyModule = typeof import("@lydell/node-pty");

let loaded: PtyModule | undefined;

/**
 * Loads node-pty on first use: it is a native module, so a host without its
 * prebuilt binary can still run every non-terminal feature.
 */
export async function loadPty(): Promise<PtyModule> {
  if (!loaded) {
    const require = createRequire(import.meta.url);
    loaded = require("@lydell/node-pty") as PtyModule;
  }
  return loaded;
}
