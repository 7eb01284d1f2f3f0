import { errors, type WrennError } from "@wrenn/common";
import type { HostCredentials } from "./credentials.ts";
import type { HostSpecs } from "./specs.ts";

/** `fetch` as the client uses it (injectable so tests and embedders can route requests). */
export type Fetch = (input: string, init: RequestInit) => Promise<Response>;

const TIMEOUT_MS = 15_000;

interface CredentialsBody {
  host: { id: string };
  token: string;
  refresh_token: string;
  cert_pem?: string;
  key_pem?: string;
  ca_cert_pem?: string;
}

async function post(fetchFn: Fetch, url: string, body: unknown, headers: Record<string, string> = {}) {
  try {
    return await fetchFn(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw errors.unavailable(`control plane unreachable at ${url}`, err);
  }
}

// The control plane answers {code, message}; keep its code so callers can tell "rejected" from "down".
async function failure(res: Response, what: string): Promise<WrennError> {
  let body: { code?: string; message?: string } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    // not JSON (a proxy's error page)
  }
  const message = `${what}: ${body.message ?? `HTTP ${res.status}`}`;
  if (res.status === 401 || res.status === 403) return errors.unauthenticated(message);
  if (res.status === 404) return errors.notFound(message);
  if (res.status === 409) return errors.failedPrecondition(message);
  if (res.status === 400) return errors.invalidArgument(message);
  return errors.unavailable(message);
}

function toCredentials(body: CredentialsBody, controlPlaneUrl: string): HostCredentials {
  const creds: HostCredentials = {
    hostId: body.host.id,
    token: body.token,
    refreshToken: body.refresh_token,
    controlPlaneUrl,
  };
  if (body.cert_pem && body.key_pem && body.ca_cert_pem) {
    creds.tls = { certPem: body.cert_pem, keyPem: body.key_pem, caCertPem: body.ca_cert_pem };
  }
  return creds;
}

const base = (url: string) => url.replace(/\/+$/, "");

/** Registers this host with a one-time token; answers its first credentials. */
export async function registerHost(options: {
  controlPlaneUrl: string;
  registrationToken: string;
  /** `ip:port` the control plane reaches this agent's Connect service at. */
  address: string;
  specs: HostSpecs;
  fetch?: Fetch;
}): Promise<HostCredentials> {
  const url = base(options.controlPlaneUrl);
  const res = await post(options.fetch ?? fetch, `${url}/v1/hosts/register`, {
    token: options.registrationToken,
    address: options.address,
    arch: options.specs.arch,
    cpu_count: options.specs.cpuCount,
    memory_mb: options.specs.memoryMb,
    disk_gb: options.specs.diskGb,
  });
  if (res.status !== 201) throw await failure(res, "registration refused");
  return toCredentials((await res.json()) as CredentialsBody, url);
}

/** Exchanges the refresh token for new credentials (the old refresh token stops working). */
export async function refreshHostCredentials(
  creds: HostCredentials,
  fetchFn: Fetch = fetch,
): Promise<HostCredentials> {
  const res = await post(fetchFn, `${creds.controlPlaneUrl}/v1/hosts/refresh`, {
    refresh_token: creds.refreshToken,
  });
  if (res.status !== 200) throw await failure(res, "token refresh refused");
  return toCredentials((await res.json()) as CredentialsBody, creds.controlPlaneUrl);
}

/** Header of a heartbeat answer asking the host to refresh now to get a (new) mTLS certificate. */
export const RENEW_CERTIFICATE_HEADER = "x-wrenn-renew-certificate";

/**
 * What a heartbeat tells the control plane about this host's sandboxes (the wire form of
 * ListSandboxes): state the agent changed on its own — an inactivity pause, the pause of every
 * sandbox at shutdown — reaches the control plane with the next beat instead of waiting for its
 * monitor to ask.
 */
export interface HeartbeatReport {
  /** Sandboxes with a VM on this host and their agent state (`running`, `starting`, …). */
  sandboxes: { sandbox_id: string; state: string }[];
  /** Paused sandboxes this agent paused on its own. */
  auto_paused_sandbox_ids: string[];
  /** Bytes on disk of the guest image (kernel, initrd, rootfs): the size of the `minimal` template. */
  base_image_bytes?: number;
  /**
   * Per template, the warm VMs this host keeps (restored, assigned to no sandbox): `ready` to be
   * taken, `starting`, and the guest memory all of them hold (a reservation like a sandbox's).
   */
  warm_pool?: {
    template_id: string;
    template_team_id: string;
    ready: number;
    starting: number;
    memory_mb: number;
  }[];
}

/**
 * One heartbeat, with the sandbox report when given; throws `unauthenticated` when the token
 * is refused, `not_found` when the host is gone. Answers whether the control plane asked for a
 * certificate renewal (it got a CA after this host registered, or the certificate is expiring).
 */
export async function sendHeartbeat(
  creds: HostCredentials,
  fetchFn: Fetch = fetch,
  report?: HeartbeatReport,
): Promise<{ renewCertificate: boolean }> {
  const res = await post(fetchFn, `${creds.controlPlaneUrl}/v1/hosts/${creds.hostId}/heartbeat`, report, {
    "x-host-token": creds.token,
  });
  if (res.status !== 204 && res.status !== 200) throw await failure(res, "heartbeat refused");
  return { renewCertificate: res.headers.get(RENEW_CERTIFICATE_HEADER) === "1" };
}

/** Seconds until a JWT expires (from its unverified payload), or 0 when unreadable. */
export function secondsUntilExpiry(jwt: string, now = Date.now()): number {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8")) as {
      exp?: number;
    };
    return typeof payload.exp === "number" ? payload.exp - Math.floor(now / 1000) : 0;
  } catch {
    return 0;
  }
}
