import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ProcessTestDeployment,
  startTestDeployment,
  startTestDeploymentWithAgentProcess,
  type TestDeployment,
} from "./deployment.ts";
import { qemuProcessesUnder } from "./vms.ts";

// The end-to-end fixture itself: a real listening control plane, a registered
// in-process host agent (QEMU microVMs, netns networking), and a team API key, used over
// real HTTP; and its teardown, which must leave no VM or network behind even when the
// agent was SIGKILLed (VMs outlive their agent on purpose).
let d: TestDeployment;
let p: ProcessTestDeployment | undefined;

beforeAll(async () => {
  d = await startTestDeployment();
});

afterAll(async () => {
  await d?.close();
  await p?.close();
});

/** This deployment's `wrenn-ns-*` namespaces and `wrenn-veth-*` links (its slot range only). */
function namespacesIn(slots: { first: number; last: number }): string[] {
  const names = [
    ...execFileSync("ip", ["netns", "list"], { encoding: "utf8" }).split("\n"),
    ...execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" })
      .split("\n")
      .map((line) => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1] ?? ""),
  ].map((line) => line.split(" ")[0] ?? "");
  return names.filter((name) => {
    const idx = Number(/^wrenn-(?:ns|veth)-(\d+)$/.exec(name)?.[1]);
    return idx >= slots.first && idx <= slots.last;
  });
}

const json = (apiKey: string) => ({ "x-api-key": apiKey, "content-type": "application/json" });

/**
 * The QEMU pid of sandbox `id`, from the pid file in its run directory (a warm VM taken by the
 * create keeps the pool's path on its command line, but its directory is renamed to the sandbox).
 */
function sandboxVmPid(agentDataDir: string, id: string): number {
  return Number(readFileSync(join(agentDataDir, "sandboxes", id, "vmm.pid"), "utf8").trim());
}

async function createSandbox(
  url: string,
  apiKey: string,
): Promise<{ id: string; host_id: string; state: string }> {
  const created = await fetch(`${url}/v1/sandboxes`, {
    method: "POST",
    headers: json(apiKey),
    body: JSON.stringify({ timeout_sec: 0 }),
  });
  const sandbox = (await created.json()) as { id: string; host_id: string; state: string };
  expect(created.status, JSON.stringify(sandbox)).toBe(201);
  return sandbox;
}

describe("test deployment", () => {
  it("serves the sandbox API over HTTP with the team's API key on the registered host", async () => {
    const headers = json(d.apiKey);
    const hosts = await fetch(`${d.url}/v1/hosts/${d.hostId}`, {
      headers: { authorization: `Bearer ${d.adminToken}` },
    });
    expect(await hosts.json()).toMatchObject({ id: d.hostId, status: "online" });

    const sandbox = await createSandbox(d.url, d.apiKey);
    expect(sandbox).toMatchObject({ state: "running", host_id: d.hostId });
    // netns networking by default (what `wrenn up` runs), inside the deployment's own slots.
    expect(d.agent.config.network).toBe("netns");
    expect(namespacesIn(d.netSlots).length).toBeGreaterThan(0);
    // This sandbox's QEMU runs; the warm pool may be restoring another in the background by now.
    const vms = qemuProcessesUnder(d.agentDataDir).map((q) => q.pid);
    expect(vms).toContain(sandboxVmPid(d.agentDataDir, sandbox.id));

    const exec = await fetch(`${d.url}/v1/sandboxes/${sandbox.id}/exec`, {
      method: "POST",
      headers,
      body: JSON.stringify({ cmd: "echo ready" }),
    });
    expect(await exec.json()).toMatchObject({ exit_code: 0, stdout: "ready\n" });

    // Another team cannot see it.
    const other = await d.newTeam("Other");
    const foreign = await fetch(`${d.url}/v1/sandboxes/${sandbox.id}`, {
      headers: { "x-api-key": other.apiKey },
    });
    expect(foreign.status).toBe(404);

    const deleted = await fetch(`${d.url}/v1/sandboxes/${sandbox.id}`, { method: "DELETE", headers });
    expect(deleted.status).toBe(204);
  });

  it("close() after the agent was SIGKILLed mid-test leaves no QEMU and no network of its slots", async () => {
    p = await startTestDeploymentWithAgentProcess();
    const sandbox = await createSandbox(p.url, p.apiKey);
    expect(sandbox.state).toBe("running");
    const vm = qemuProcessesUnder(p.agentDataDir).find(
      (q) => q.pid === sandboxVmPid(p?.agentDataDir ?? "", sandbox.id),
    );
    expect(vm, "the sandbox's QEMU runs under the agent's data dir").toBeDefined();
    expect(namespacesIn(p.netSlots).length).toBeGreaterThan(0);

    await p.agentProcess.kill("SIGKILL");
    // By design the VM survives its agent (a restarted agent would take it over). The warm pool's
    // refill may have started a second QEMU before the kill; close() must reap that one too.
    expect(qemuProcessesUnder(p.agentDataDir).map((q) => q.pid)).toContain(vm?.pid);

    const { agentDataDir, netSlots } = p;
    await p.close();
    p = undefined;
    expect(qemuProcessesUnder(agentDataDir)).toEqual([]);
    expect(namespacesIn(netSlots)).toEqual([]);
  });
});
