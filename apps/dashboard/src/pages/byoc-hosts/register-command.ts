/** What the "register a host" dialog needs to write the command out. */
export interface RegisterCommandInput {
  /** The one-time `wrh_…` token `POST /v1/hosts` answered. */
  token: string;
  /** The control plane's URL as the new host reaches it (the dashboard's own origin by default). */
  controlPlaneUrl: string;
  /** `ip:port` the control plane reaches the new host's agent on; a placeholder until the user types one. */
  address?: string;
}

/** Shown in place of an address the user has not typed yet. */
export const ADDRESS_PLACEHOLDER = "<this machine's ip>:5007";

/**
 * The exact shell lines to run, as root, on the new host (the agent manages VMs and network
 * namespaces). The token travels in `WRENN_REGISTRATION_TOKEN`, which `wrenn host register` reads,
 * never as an argument: arguments are world-readable in `ps`. No `sudo` in the text: its reset
 * PATH and environment would lose node and the token on many systems. Single quotes keep the
 * token and URL literal in any POSIX shell.
 */
export function registerCommand(input: RegisterCommandInput): string {
  const address = input.address?.trim() || ADDRESS_PLACEHOLDER;
  return [
    `export WRENN_REGISTRATION_TOKEN=${shellQuote(input.token)}`,
    `scripts/wrenn host register \\`,
    `  --address ${address === ADDRESS_PLACEHOLDER ? address : shellQuote(address)} \\`,
    `  --control-plane ${shellQuote(input.controlPlaneUrl.replace(/\/+$/, ""))}`,
  ].join("\n");
}

/** `value` as one POSIX shell word. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]{0,252}):(\d{1,5})$/;

/** Why `address` is not a `host:port` the API accepts, or null when it is (the same rule as `POST /v1/hosts/register`). */
export function addressProblem(address: string): string | null {
  const m = ADDRESS.exec(address.trim());
  if (!m) return "Use host:port, e.g. 10.0.0.5:5007";
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? null : "The port must be 1-65535";
}

const TAG = /^[a-zA-Z0-9][a-zA-Z0-9._:-]{0,62}$/;

/** Why `tag` would be refused by `POST /v1/hosts/{id}/tags`, or null. */
export function tagProblem(tag: string): string | null {
  if (!tag) return "Type a tag";
  return TAG.test(tag) ? null : "1-63 letters, digits, '.', '_', ':' or '-', starting with a letter or digit";
}
