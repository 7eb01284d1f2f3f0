import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { errors } from "@wrenn/common";

/** The agent's mTLS certificate (7 days, renewed with the host token) and the CA it trusts, PEM. */
export interface HostTlsMaterial {
  certPem: string;
  keyPem: string;
  /** The control plane's CA: clients must present a certificate it signed. */
  caCertPem: string;
}

/** What a registered agent keeps between runs. */
export interface HostCredentials {
  /** Wire id, `host-<uuid>`. */
  hostId: string;
  /** Host JWT (7 days), sent as `X-Host-Token`. */
  token: string;
  /** Single-use refresh token (60 days). */
  refreshToken: string;
  /** Base URL of the control plane that issued them. */
  controlPlaneUrl: string;
  /** Present when the control plane has a CA (mTLS); absent in plain-HTTP (dev) mode. */
  tls?: HostTlsMaterial | undefined;
}

/**
 * Writes the credentials atomically with mode 0600: a temp file created 0600
 * in the same directory, then renamed over the old one, so a crash never
 * leaves a half-written or world-readable file.
 */
export async function saveCredentials(path: string, creds: HostCredentials): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  const body = JSON.stringify(
    {
      host_id: creds.hostId,
      token: creds.token,
      refresh_token: creds.refreshToken,
      control_plane_url: creds.controlPlaneUrl,
      ...(creds.tls
        ? { cert_pem: creds.tls.certPem, key_pem: creds.tls.keyPem, ca_cert_pem: creds.tls.caCertPem }
        : {}),
    },
    null,
    2,
  );
  await writeFile(tmp, `${body}\n`, { mode: 0o600, flag: "wx" });
  await chmod(tmp, 0o600); // the umask cannot widen it, but be explicit
  await rename(tmp, path);
}

/** The saved credentials, or undefined when the file does not exist. */
export async function loadCredentials(path: string): Promise<HostCredentials | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw errors.failedPrecondition(`credentials file ${path} is not valid JSON; register the host again`);
  }
  const { host_id, token, refresh_token, control_plane_url } = raw;
  if (
    typeof host_id !== "string" ||
    typeof token !== "string" ||
    typeof refresh_token !== "string" ||
    typeof control_plane_url !== "string"
  ) {
    throw errors.failedPrecondition(`credentials file ${path} is incomplete; register the host again`);
  }
  const { cert_pem, key_pem, ca_cert_pem } = raw;
  const tlsFields = [cert_pem, key_pem, ca_cert_pem];
  if (tlsFields.some((f) => f !== undefined) && !tlsFields.every((f) => typeof f === "string")) {
    throw errors.failedPrecondition(
      `credentials file ${path} has an incomplete certificate (cert_pem, key_pem, ca_cert_pem); register the host again`,
    );
  }
  return {
    hostId: host_id,
    token,
    refreshToken: refresh_token,
    controlPlaneUrl: control_plane_url,
    ...(typeof cert_pem === "string"
      ? { tls: { certPem: cert_pem, keyPem: key_pem as string, caCertPem: ca_cert_pem as string } }
      : {}),
  };
}
