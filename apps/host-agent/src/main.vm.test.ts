import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { HostAgentService, hostagent } from "@wrenn/proto";
import { pollUntil } from "@wrenn/testing/poll";
import { afterAll, describe, expect, it } from "vitest";
import { cleanupStaleNetworks } from "./network/index.ts";
import { freeLoopbackPort } from "./vmm/network-attachment.ts";

// The real agent process (real QEMU microVMs, real network namespaces) killed with SIGKILL and
// restarted. It owns a private range of network slots so the start-up cleanup of the restarted
// agent cannot touch namespaces of anything else running on this machine.
const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const SLOT_FIRST = 4000 + Math.floor(Math.random() * 9) * 10;
const SLOTS = `${SLOT_FIRST}-${SLOT_FIRST + 9}`;
const inOurRange = (idx: number) => idx >= SLOT_FIRST && idx <= SLOT_FIRST + 9;

const children: ChildProcess[] = [];
let dataDir = "";

interface Agent {
  child: ChildProcess;
  output: () => string;
  client: Client<typeof HostAgentService>;
}

async function startAgentProcess(port: number): Promise<Agent> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", MAIN, "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir, "--network", "netns"],
    {
      env: {
        ...process.env,
        WRENN_DATA_DIR: process.env.WRENN_DATA_DIR || "/var/lib/wrenn",
        WRENN_NET_SLOTS: SLOTS,
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.push(child);
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const deadline = Date.now() + 60_000;
  while (!out.includes("host agent started")) {
    if (child.exitCode !== null) throw new Error(`agent exited: ${out}`);
    if (Date.now() > deadline) throw new Error(`agent did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const client = createClient(
    HostAgentService,
    createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "2" }),
  );
  return { child, output: () => out, client };
}

function alive(pid: number): boolean {
  try {
    const stat = execFileSync("cat", [`/proc/${pid}/stat`], {
      stdio: ["ignore", "pipe", "ignore"],
    }).toString();
    return !/ Z /.test(stat);
  } catch {
    return false;
  }
}

function networkLines(): string[] {
  return [
    ...execFileSync("ip", ["netns", "list"]).toString().split("\n"),
    ...execFileSync("ip", ["-o", "link", "show"]).toString().split("\n"),
    ...execFileSync("iptables-save").toString().split("\n"),
  ];
}

/** Namespace, link and rule lines of the slots `which` accepts (default: all of ours). */
function ourNetworkLeftovers(which: (idx: number) => boolean = inOurRange): string[] {
  return networkLines().filter((line) =>
    [...line.matchAll(/wrenn-(?:ns-|veth-|vp-)?(\d+)/g)].some(
      (m) => inOurRange(Number(m[1])) && which(Number(m[1])),
    ),
  );
}

/** The warm VMs (pool run directories `sandboxes/warm.*` with a live QEMU) in the data directory. */
async function warmVms(): Promise<{ dir: string; pid: number }[]> {
  const found: { dir: string; pid: number }[] = [];
  for (const name of await readdir(join(dataDir, "sandboxes")).catch(() => [] as string[])) {
    if (!name.startsWith("warm.")) continue;
    const pid = Number(await readFile(join(dataDir, "sandboxes", name, "vmm.pid"), "utf8").catch(() => ""));
    if (pid > 1 && alive(pid)) found.push({ dir: name, pid });
  }
  return found;
}

/** What the agent saved about a running sandbox (pid, network slot). */
async function runtimeOf(id: string): Promise<{ pid: number; network: { slot: number } }> {
  const record = JSON.parse(await readFile(join(dataDir, "sandboxes", id, "sandbox.json"), "utf8"));
  return record.runtime;
}

async function sh(agent: Agent, sandboxId: string, script: string): Promise<string> {
  const r = await agent.client.exec({
    sandboxId,
    command: { cmd: "/bin/sh", args: ["-c", script], user: "root" },
  });
  return Buffer.from(r.stdout).toString();
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  // Whatever a failed run left: every process working in our data directory (sandbox VMs and
  // template captures alike) and our slots' network state.
  if (dataDir) {
    for (const entry of await readdir("/proc").catch(() => [] as string[])) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
      const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
      if (cmdline.includes(dataDir) && alive(pid)) process.kill(pid, "SIGKILL");
    }
  }
  await cleanupStaleNetworks({ match: inOurRange }).catch(() => {});
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("host agent crash recovery", () => {
  it("after SIGKILL (or SIGUSR2 for an upgrade) a restarted agent takes over surviving VMs, reports the dead one lost and leaves nothing stale", async () => {
    dataDir = await mkdtemp(join(tmpdir(), "wrenn-crash-"));
    const port = await freeLoopbackPort();
    const first = await startAgentProcess(port);
    for (const id of ["survivor", "victim", "kept-paused"]) {
      await first.client.createSandbox({ sandboxId: id, teamId: "team-c", templateId: "minimal" });
    }
    await sh(first, "survivor", "echo survived > /tmp/note");
    const bgPid = (
      await sh(first, "survivor", "setsid sleep 100000 </dev/null >/dev/null 2>&1 & echo $!")
    ).trim();
    expect(bgPid).toMatch(/^\d+$/);
    await sh(first, "kept-paused", "echo paused-note > /tmp/note");
    await first.client.pauseSandbox({ sandboxId: "kept-paused" });

    const survivor = await runtimeOf("survivor");
    const victim = await runtimeOf("victim");
    expect(survivor.network.slot).not.toBe(victim.network.slot);
    // The warm pool refills after the creates: its VM (under `sandboxes/warm.*`) outlives the
    // agent too, and the next one must end it.
    const [leftWarm] = await pollUntil("a warm VM of the first run", warmVms, (vms) => vms.length === 1);
    first.child.kill("SIGKILL");
    await new Promise((r) => first.child.once("exit", r));
    // The VMs outlive the agent (own session, no parent-death signal)…
    expect(alive(survivor.pid)).toBe(true);
    expect(alive(victim.pid)).toBe(true);
    // …but one of them dies while no agent is there to see it.
    process.kill(victim.pid, "SIGKILL");
    await pollUntil(
      "the victim's QEMU gone",
      async () => alive(victim.pid),
      (a) => !a,
    );
    expect(ourNetworkLeftovers((idx) => idx === victim.network.slot).length).toBeGreaterThan(0);

    // Its warm pool stays empty until a create (no WRENN_PREPARE_TEMPLATES): nothing it starts
    // can take the victim's freed slot before the checks below.
    const second = await startAgentProcess(port);
    expect(second.output()).toMatch(/"lost":\["victim"\]/);
    expect(second.output()).toMatch(/"adopted":\["survivor"\]/);
    // The dead one left nothing behind; the survivor kept its process and its network slot.
    expect(ourNetworkLeftovers((idx) => idx === victim.network.slot)).toEqual([]);
    expect(ourNetworkLeftovers((idx) => idx === survivor.network.slot).length).toBeGreaterThan(0);
    expect(alive(survivor.pid)).toBe(true);
    expect(alive(leftWarm?.pid ?? 0)).toBe(false);
    expect((await readdir(join(dataDir, "sandboxes"))).sort()).toEqual(["kept-paused", "survivor"]);
    const list = await second.client.listSandboxes({});
    expect(list.sandboxes.map((s) => [s.sandboxId, s.state])).toEqual([
      ["survivor", hostagent.SandboxState.RUNNING],
    ]);
    expect(await sh(second, "survivor", "cat /tmp/note")).toBe("survived\n");
    expect(await sh(second, "survivor", `kill -0 ${bgPid} && echo running`)).toBe("running\n");
    // An upgrade (SIGUSR2): the agent exits, leaving its VMs running for the next process.
    second.child.kill("SIGUSR2");
    expect(await new Promise((r) => second.child.once("exit", r))).toBe(0);
    expect(alive(survivor.pid)).toBe(true);
    const third = await startAgentProcess(port);
    expect(third.output()).toMatch(/"adopted":\["survivor"\]/);
    expect(await sh(third, "survivor", "cat /tmp/note")).toBe("survived\n");

    // A new sandbox does not get the survivor's slot.
    await third.client.createSandbox({ sandboxId: "after", teamId: "team-c", templateId: "minimal" });
    expect((await runtimeOf("after")).network.slot).not.toBe(survivor.network.slot);
    expect(await sh(third, "survivor", "cat /tmp/note")).toBe("survived\n");

    // A paused sandbox survives the crash too: its state is on disk.
    await third.client.resumeSandbox({ sandboxId: "kept-paused", timeoutSec: 0 });
    expect(await sh(third, "kept-paused", "cat /tmp/note")).toBe("paused-note\n");
    for (const id of ["kept-paused", "survivor", "after"])
      await third.client.destroySandbox({ sandboxId: id });
    expect(alive(survivor.pid)).toBe(false);
    third.child.kill("SIGTERM");
    await new Promise((r) => third.child.once("exit", r));
    expect(ourNetworkLeftovers()).toEqual([]);
  });
});
