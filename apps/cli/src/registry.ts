import type { Command } from "./command.ts";

/**
 * The command catalog: the one list of `wrenn`'s commands (the help test walks it). Each
 * entry loads its module lazily so that `wrenn image build` does not pay for loading the
 * control plane, and vice versa.
 */
export const commands: Record<string, () => Promise<{ command: Command }>> = {
  image: () => import("./commands/image.ts"),
  up: () => import("./commands/up.ts"),
  login: () => import("./commands/login.ts"),
  sandbox: () => import("./commands/sandbox.ts"),
  files: () => import("./commands/files.ts"),
  snapshot: () => import("./commands/snapshot.ts"),
  host: () => import("./commands/host.ts"),
};
