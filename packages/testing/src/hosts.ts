import type { Logger } from "@wrenn/common";
import {
  DataLayout,
  QemuMicrovmDriver,
  SandboxManager,
  TemplateOperations,
  TemplateStore,
  UserModeNetworkProvider,
} from "@wrenn/host-agent";
import { call, signupUser, type TestApp } from "./app.ts";

/** Signs up a user and makes it a platform admin (what adding regular hosts needs). */
export async function signupAdmin(t: TestApp, name = "Admin"): ReturnType<typeof signupUser> {
  const admin = await signupUser(t.app, name);
  await t.db.pool.query("UPDATE users SET is_admin = true WHERE id = $1", [admin.user.id.slice(4)]);
  return admin;
}

/** A host registered through `POST /v1/hosts` + `POST /v1/hosts/register`. */
export interface RegisteredHost {
  /** Wire id (`host-…`). */
  wire: string;
  /** Database id (the wire id without `host-`). */
  uuid: string;
  /** The host's access token (what its agent would heartbeat with). */
  token: string;
}

/**
 * Registers a regular host whose agent is said to listen at `address` (nothing need listen
 * there) through the real one-time-token flow, as the admin `adminToken` names. Throws with
 * the answer when either step is refused.
 */
export async function registerHost(t: TestApp, adminToken: string, address: string): Promise<RegisteredHost> {
  const created = await call(t.app, "POST", "/v1/hosts", { token: adminToken, body: { type: "regular" } });
  if (created.status !== 201)
    throw new Error(`POST /v1/hosts → ${created.status} ${JSON.stringify(created.body)}`);
  const reg = await call(t.app, "POST", "/v1/hosts/register", {
    body: {
      token: created.body.registration_token,
      address,
      arch: "x86_64",
      cpu_count: 2,
      memory_mb: 4096,
      disk_gb: 10,
    },
  });
  if (reg.status !== 201)
    throw new Error(`POST /v1/hosts/register → ${reg.status} ${JSON.stringify(reg.body)}`);
  const wire = reg.body.host.id as string;
  return { wire, uuid: wire.slice(5), token: reg.body.token as string };
}

/**
 * A host agent's real sandbox manager and template operations over `agentDir` with no VM
 * behind them (the kernel is never probed): an RPC server built on them answers, empty.
 */
export async function vmlessAgentParts(
  agentDir: string,
  log: Logger,
): Promise<{ manager: SandboxManager; templates: TemplateOperations }> {
  const layout = new DataLayout(agentDir);
  const driver = new QemuMicrovmDriver({ probeKernel: "/nonexistent" });
  const store = new TemplateStore(layout, driver, log);
  const manager = new SandboxManager({
    layout,
    vmm: driver,
    templates: store,
    network: new UserModeNetworkProvider(),
    guestImage: async () => {
      throw new Error("no guest image in this test");
    },
    logger: log,
  });
  await manager.recover();
  return { manager, templates: new TemplateOperations(manager, store, driver, log) };
}
