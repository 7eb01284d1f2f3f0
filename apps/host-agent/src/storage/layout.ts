import { join } from "node:path";
import { assertSafeName } from "@wrenn/common";

/** Owner of platform templates (such as `minimal`). */
export const PLATFORM_TEAM_ID = "00000000-0000-0000-0000-000000000000";

/** File names inside a sandbox directory. */
export const SANDBOX_FILES = {
  record: "sandbox.json",
  disk: "rootfs.qcow2",
  pauseState: "pause.state",
  /** Which guest pages the sandbox had changed against its template's RAM file when it paused. */
  pausePages: "pause.pages",
  /** The pause state reduced to those pages (written after the pause; complete once renamed here). */
  pauseChangedState: "pause.changed.state",
  /** `pauseChangedState` while it is written (renamed when complete, or restored from directly). */
  pauseChangedPartial: "pause.changed.state.partial",
} as const;

/** File names inside a template generation or image directory. */
export const TEMPLATE_FILES = {
  kernel: "vmlinuz",
  initrd: "initrd.img",
  rootfs: "rootfs.img",
  memory: "memory.ram",
  state: "device.state",
  meta: "meta.json",
  image: "image.json",
} as const;

/**
 * Paths under the agent's data directory. Every name is validated before it
 * becomes part of a path, here, whatever the caller already checked:
 * - `sandboxes/<sandboxId>/`                         one running or paused sandbox
 * - `templates/teams/<teamId>/<templateId>/gen-<n>/` template snapshot generations
 * - `templates/teams/<teamId>/<templateId>/image/`   image-only template (flattened disk)
 */
export class DataLayout {
  constructor(readonly root: string) {}

  /** Directory of all sandboxes. */
  get sandboxesDir(): string {
    return join(this.root, "sandboxes");
  }

  /** Directory of one sandbox. */
  sandboxDir(sandboxId: string): string {
    return join(this.sandboxesDir, assertSafeName(sandboxId, "sandbox_id"));
  }

  /** Directory of one template (all its generations). */
  templateDir(teamId: string, templateId: string): string {
    return join(
      this.root,
      "templates",
      "teams",
      assertSafeName(teamId, "team_id"),
      assertSafeName(templateId, "template_id"),
    );
  }

  /** Directory for scratch files of long operations (same file system, so renames are atomic). */
  get tmpDir(): string {
    return join(this.root, "tmp");
  }
}
