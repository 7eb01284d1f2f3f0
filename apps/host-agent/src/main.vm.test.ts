import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { HostAgentService } from "@wrenn/proto";
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

function ourNetworkLeftovers(): string[] {
  const names = [
    ...execFileSync("ip", ["netns", "list"]).toString().split("\n"),
    ...execFileSync("ip", ["-o", "link", "show"]).toString().split("\n"),
    ...execFileSync("iptables-save").toString().split("\n"),
  ];
  return names.filter((line) =>
    [...line.matchAll(/wrenn-(?:ns-|veth-|vp-)?(\d+)/g)].some((m) => inOurRange(Number(m[1]))),
  );
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
  it("after SIGKILL and restart reports lost sandboxes and leaves no process, namespace, link or rule", async () => {
    dataDir = await mkdtemp(join(tmpdir(), "wrenn-crash-"));
    const port = await freeLoopbackPort();
    const first = await startAgentProcess(port);
    await first.client.createSandbox({ sandboxId: "lost-one", teamId: "team-c", templateId: "minimal" });
    const ok = await first.client.exec({
      sandboxId: "lost-one",
      command: { cmd: "/bin/echo", args: ["ok"] },
    });
    expect(Buffer.from(ok.stdout).toString()).toBe("ok\n");
    await first.client.createSandbox({ sandboxId: "kept-paused", teamId: "team-c", templateId: "minimal" });
    await first.client.exec({
      sandboxId: "kept-paused",
      command: { cmd: "/bin/sh", args: ["-c", "echo survived > /tmp/note"], user: "root" },
    });
    await first.client.pauseSandbox({ sandboxId: "kept-paused" });

    const vmPid = Number(await readFile(join(dataDir, "sandboxes", "lost-one", "vmm.pid"), "utf8"));
    expect(alive(vmPid)).toBe(true);
    first.child.kill("SIGKILL");
    await new Promise((r) => first.child.once("exit", r));
    // The crash really leaves an orphan VM and its network behind…
    expect(alive(vmPid)).toBe(true);
    expect(ourNetworkLeftovers().length).toBeGreaterThan(0);

    // …which the restarted agent removes, reporting the sandbox it lost.
    const second = await startAgentProcess(port);
    expect(second.output()).toMatch(/"lost":\["lost-one"\]/);
    expect(alive(vmPid)).toBe(false);
    expect(ourNetworkLeftovers()).toEqual([]);
    const list = await second.client.listSandboxes({});
    expect(list.sandboxes).toEqual([]);
    expect(await readdir(join(dataDir, "sandboxes"))).toEqual(["kept-paused"]);

    // A paused sandbox survives the crash: its state is on disk.
    await second.client.resumeSandbox({ sandboxId: "kept-paused", timeoutSec: 0 });
    const note = await second.client.exec({
      sandboxId: "kept-paused",
      command: { cmd: "/bin/cat", args: ["/tmp/note"], user: "root" },
    });
    expect(Buffer.from(note.stdout).toString()).toBe("survived\n");
    await second.client.destroySandbox({ sandboxId: "kept-paused" });
    second.child.kill("SIGTERM");
    await new Promise((r) => second.child.once("exit", r));
    expect(ourNetworkLeftovers()).toEqual([]);
  });
});
