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
  channel: () => import("./commands/channel.ts"),
  template: () => import("./commands/template.ts"),
};

/**
 * Each command's one-line summary for `wrenn --help`, kept here so that the top-level help
 * loads no command module (the `up` chunk alone pulls in the whole control plane). The
 * command-tree test checks that each equals the summary the command module declares.
 */
export const summaries: Record<keyof typeof commands, string> = {
  image: "Build, inspect or prune the guest image (kernel, initramfs, rootfs)",
  up: "Start PostgreSQL, Redis, the control plane and a host agent on this machine",
  login: "Save an API key and control plane URL for later commands",
  sandbox: "Create, inspect, enter and destroy sandboxes",
  files: "Move files in and out of sandboxes",
  snapshot: "Capture sandboxes as templates; list and delete them",
  host: "Register this machine as a host and start the host agent daemon (host register|run)",
  channel: "Notify Slack, Discord, Teams, Telegram, Matrix or a webhook of lifecycle events",
  template: "Build templates from recipes or Dockerfiles; list, delete, follow builds",
};
