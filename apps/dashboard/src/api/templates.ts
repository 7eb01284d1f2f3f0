import { api } from "./client.ts";
import type { Template } from "./sandboxes.ts";

export { listTemplates, type Template } from "./sandboxes.ts";

/**
 * Captures a running sandbox as a template: `snapshot` (RAM + disk; the sandbox keeps running) or
 * `image` (a flattened disk; the sandbox is destroyed). An existing name of the team is replaced.
 */
export function createSnapshot(body: {
  sandbox_id: string;
  name?: string;
  type?: "snapshot" | "image";
}): Promise<Template> {
  return api("POST", "/v1/snapshots", { body });
}

/** Deletes one of the team's templates and its files on every host. */
export function deleteTemplate(name: string): Promise<void> {
  return api("DELETE", `/v1/snapshots/${encodeURIComponent(name)}`);
}
