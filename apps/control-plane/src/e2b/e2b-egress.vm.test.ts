/**
 * Egress rules through the official `e2b` SDK on a real deployment (netns networking, QEMU
 * microVMs): allowInternetAccess, network.allowOut/denyOut by CIDR and by domain, updateNetwork
 * on a running sandbox, rules kept across pause/resume and removed on kill. The targets are HTTP
 * servers in a namespace this test makes (198.18.7.0/24, reached through the host like real
 * egress); the agent's DNS filter forwards to this test's own DNS server on loopback.
 */

import { Sandbox as WrennSandbox } from "@wrenn/sdk";
import { startTestDeployment, type TestDeployment } from "@wrenn/testing/deployment";
import { GuestLab, startTestDns, type TestDns } from "@wrenn/testing/network";
import { ALL_TRAFFIC, Sandbox, type SandboxOpts } from "e2b";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pointE2bSdkAt } from "./e2b-sdk-env.ts";

const OUTSIDE_NS = `wrenntest-e2beg-${process.pid}`;
const OUTSIDE_HOST_LINK = `wrt-v${process.pid % 100000}`;
const HOST_SIDE = "198.18.7.1";
const ALLOWED_IP = "198.18.7.2";
const OTHER_IP = "198.18.7.3";
const ZONE: Record<string, string> = { "allowed.test": ALLOWED_IP, "other.test": OTHER_IP };
const lab = new GuestLab();
let d: TestDeployment;
let dns: TestDns;
let restoreE2bEnv: (() => void) | undefined;
let savedDnsEnv: string | undefined;
const sandboxes: Sandbox[] = [];

/** GET `url` from inside the sandbox (python3, its own resolver): the body, or `FAILED <error>`. */
async function getFrom(sbx: Sandbox, url: string): Promise<string> {
  const script = `import urllib.request,sys
try: print(urllib.request.urlopen(${JSON.stringify(url)}, timeout=3).read().decode())
except Exception as e: print("FAILED", type(e).__name__, e)`;
  const res = await sbx.commands.run(`python3 -c '${script}'`, { timeoutMs: 30_000 });
  return res.stdout.trim();
}

async function create(opts: SandboxOpts): Promise<Sandbox> {
  const sbx = await Sandbox.create({ timeoutMs: 600_000, ...opts });
  sandboxes.push(sbx);
  return sbx;
}

beforeAll(async () => {
  dns = await startTestDns(ZONE);
  // The in-process agent's DNS filter reads it when a sandbox first gets a domain rule.
  savedDnsEnv = process.env.WRENN_EGRESS_DNS;
  process.env.WRENN_EGRESS_DNS = `127.0.0.1:${dns.port}`;
  await lab.outside(OUTSIDE_NS, OUTSIDE_HOST_LINK, HOST_SIDE, [ALLOWED_IP, OTHER_IP]);
  await lab.startServer(OUTSIDE_NS, "allowed", ALLOWED_IP);
  await lab.startServer(OUTSIDE_NS, "other", OTHER_IP);
  d = await startTestDeployment({ agentArgs: ["--network", "netns"] });
  restoreE2bEnv = pointE2bSdkAt(d);
}, 180_000);

afterAll(async () => {
  for (const sbx of sandboxes) await sbx.kill().catch(() => {});
  restoreE2bEnv?.();
  await d?.close();
  dns?.close();
  await lab.cleanup();
  if (savedDnsEnv === undefined) delete process.env.WRENN_EGRESS_DNS;
  else process.env.WRENN_EGRESS_DNS = savedDnsEnv;
});

describe("egress rules through the e2b SDK", () => {
  it("refuses rules E2B refuses, naming the field", async () => {
    await expect(create({ network: { denyOut: ["evil.test"] } })).rejects.toThrow(/network\.denyOut/);
    await expect(create({ network: { allowOut: ["allowed.test"] } })).rejects.toThrow(/0\.0\.0\.0\/0/);
  });

  it("blocks everything without internet access, and follows updateNetwork on the running sandbox", async () => {
    const sbx = await create({ allowInternetAccess: false });
    expect((await sbx.getInfo()).allowInternetAccess).toBe(false);
    expect(await getFrom(sbx, `http://${ALLOWED_IP}:8080/`)).toMatch(/^FAILED/);
    // An allowed address wins over the denied rest.
    await sbx.updateNetwork({ allowOut: [ALLOWED_IP], denyOut: [ALL_TRAFFIC] });
    expect(await getFrom(sbx, `http://${ALLOWED_IP}:8080/`)).toMatch(/^allowed /);
    expect(await getFrom(sbx, `http://${OTHER_IP}:8080/`)).toMatch(/^FAILED/);
    // By domain: only what the sandbox's DNS answered for allowed.test gets through.
    await sbx.updateNetwork({ allowOut: ["allowed.test"], denyOut: [ALL_TRAFFIC] });
    expect(await getFrom(sbx, "http://allowed.test:8080/")).toMatch(/^allowed /);
    expect(await getFrom(sbx, "http://other.test:8080/")).toMatch(/^FAILED/);
    expect(await getFrom(sbx, `http://${OTHER_IP}:8080/`)).toMatch(/^FAILED/);
    expect((await sbx.getInfo()).network).toMatchObject({
      allowOut: ["allowed.test"],
      denyOut: [ALL_TRAFFIC],
    });

    // Kept across pause and resume (a new network on resume gets the rules before the guest runs).
    await sbx.pause();
    const resumed = await Sandbox.connect(sbx.sandboxId, { timeoutMs: 600_000 });
    expect(await getFrom(resumed, "http://allowed.test:8080/")).toMatch(/^allowed /);
    expect(await getFrom(resumed, `http://${OTHER_IP}:8080/`)).toMatch(/^FAILED/);

    // An update that leaves everything out clears the rules (E2B replaces the whole config).
    await resumed.updateNetwork({});
    expect(await getFrom(resumed, `http://${OTHER_IP}:8080/`)).toMatch(/^other /);
    expect((await resumed.getInfo()).allowInternetAccess).toBe(true);
  });

  it("denies a CIDR from creation and lets the rest out", async () => {
    const sbx = await create({ network: { denyOut: [`${OTHER_IP}/32`] } });
    expect(await getFrom(sbx, `http://${OTHER_IP}:8080/`)).toMatch(/^FAILED/);
    expect(await getFrom(sbx, `http://${ALLOWED_IP}:8080/`)).toMatch(/^allowed /);
    // Wrenn's own API and SDK change the same rules (PUT /v1/sandboxes/{id}/network).
    const wrenn = { apiKey: d.apiKey, apiUrl: d.url };
    expect((await WrennSandbox.getInfo(sbx.sandboxId, wrenn)).network.denyOut).toEqual([`${OTHER_IP}/32`]);
    const opened = await WrennSandbox.updateNetwork(sbx.sandboxId, { allowInternetAccess: true }, wrenn);
    expect(opened).toMatchObject({ allowInternetAccess: true, network: { allowOut: [], denyOut: [] } });
    expect(await getFrom(sbx, `http://${OTHER_IP}:8080/`)).toMatch(/^other /);
    await sbx.kill();
    expect(await Sandbox.kill(sbx.sandboxId)).toBe(false);
  });
});
