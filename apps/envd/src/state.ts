/**
 * The mutable, daemon-wide settings `/init` changes. One instance per envd;
 * every component reads it at the moment it needs a value, so a re-init (for
 * example after a snapshot restore) takes effect immediately.
 */
export class EnvdState {
  /** Environment variables every process starts with (set at sandbox creation). */
  envVars: Record<string, string> = {};
  /** When set, every route but `/health` requires it in `X-Access-Token`. */
  accessToken: string | undefined;
  /** The user for requests that name none. */
  defaultUser = "user";
  /** Working directory for processes and base for relative paths when set; else the user's home. */
  defaultWorkdir: string | undefined;
  sandboxId: string | undefined;
  templateId: string | undefined;

  /** Variables envd itself adds to every process: creation-time env vars plus the sandbox identity. */
  processEnvironment(): Record<string, string> {
    const identity: Record<string, string> = {};
    if (this.sandboxId) identity.WRENN_SANDBOX_ID = this.sandboxId;
    if (this.templateId) identity.WRENN_TEMPLATE_ID = this.templateId;
    return { ...this.envVars, ...identity };
  }
}
