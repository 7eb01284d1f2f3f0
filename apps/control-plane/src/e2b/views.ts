import type { Sandbox, SandboxState } from "@wrenn/db";
import { formatId } from "../ids.ts";
import { e2bNetworkDetail } from "./network.ts";

/**
 * The envd version our guest agent reports (apps/envd/src/server.ts). The `e2b` SDK
 * enables features by it (stdin close ≥ 0.5.2, octet-stream uploads ≥ 0.5.7, …).
 */
export const ENVD_VERSION = "0.6.4";

/** E2B knows only these two states; every live Wrenn state maps onto one of them. */
export type E2bState = "running" | "paused";

/** Wrenn states listed under each E2B state (`missing` = host silent, reported as running). */
export const wrennStatesOf: Record<E2bState, SandboxState[]> = {
  running: ["pending", "starting", "running", "missing"],
  paused: ["paused"],
};

/** The E2B state of a live sandbox. */
export function e2bState(state: SandboxState): E2bState {
  return state === "paused" ? "paused" : "running";
}

/** Stopped and failed sandboxes do not exist for E2B clients (its API forgets killed ones). */
export function isGone(state: SandboxState): boolean {
  return state === "stopped" || state === "error";
}

// A sandbox without an inactivity timeout never expires.
const NEVER = "9999-12-31T23:59:59.000Z";

/**
 * E2B's end time when the sandbox follows E2B's lifecycle (none while paused or with timeout 0);
 * otherwise when Wrenn's inactivity timeout would pause it if nothing happens until then.
 */
function endAt(s: Sandbox): string {
  if (s.onTimeout !== null) return s.endAt?.toISOString() ?? NEVER;
  if (s.timeoutSec === 0) return NEVER;
  const from = s.lastActiveAt ?? s.startedAt ?? s.createdAt;
  return new Date(from.getTime() + s.timeoutSec * 1000).toISOString();
}

/** E2B's `Sandbox` (create, connect, resume answers): what the SDK needs to reach envd. */
export function e2bSandbox(s: Sandbox, envdAccessToken: string | null) {
  return {
    templateID: s.template,
    sandboxID: formatId("sandbox", s.id),
    alias: s.template,
    clientID: s.hostId ? formatId("host", s.hostId) : "wrenn",
    envdVersion: ENVD_VERSION,
    ...(envdAccessToken ? { envdAccessToken } : {}),
    trafficAccessToken: null,
    // Null: the SDK then reaches envd through E2B_SANDBOX_URL (our port proxy).
    domain: null,
  };
}

/** E2B's `ListedSandbox` (list answers). */
export function e2bListedSandbox(s: Sandbox) {
  return {
    templateID: s.template,
    alias: s.template,
    sandboxID: formatId("sandbox", s.id),
    clientID: s.hostId ? formatId("host", s.hostId) : "wrenn",
    startedAt: (s.startedAt ?? s.createdAt).toISOString(),
    endAt: endAt(s),
    cpuCount: s.vcpus,
    memoryMB: s.memoryMb,
    diskSizeMB: s.diskSizeMb,
    metadata: s.metadata,
    state: e2bState(s.state),
    envdVersion: ENVD_VERSION,
    volumeMounts: [],
  };
}

/** E2B's `SandboxDetail` (get answers). */
export function e2bSandboxDetail(s: Sandbox, envdAccessToken: string | null) {
  return {
    ...e2bListedSandbox(s),
    ...e2bNetworkDetail(s),
    ...(envdAccessToken ? { envdAccessToken } : {}),
    domain: null,
    // Sandboxes created through /v1 follow Wrenn's inactivity timer, which pauses (never kills).
    lifecycle: { autoResume: s.autoResume, onTimeout: s.onTimeout ?? "pause" },
  };
}
