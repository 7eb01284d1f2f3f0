import { execFileSync } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { apiCall } from "@wrenn/testing/api";
import { type ProcessTestDeployment, startTestDeploymentWithAgentProcess } from "@wrenn/testing/deployment";
import { GuestLab, startTestDns, type TestDns } from "@wrenn/testing/network";
import { pollUntil } from "@wrenn/testing/poll";
import { qemuProcessesUnder } from "@wrenn/testing/vms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Paths of an agent crash the agent-crash test does not take: the running sandbox came from the
// warm pool (its VM runs under the pool's name, its run directory was renamed at the hand-over),
// and the sandbox runs under egress rules (iptables rules stay in its namespace; the DNS filter
// that lets allowed domains through ran in the dead process and must come back with the new one).
// The host agent is its own process, SIGKILLed and restarted; egress targets are HTTP servers in a
// namespace this test makes, the agent's DNS filter forwards to this test's DNS server.
const OUTSIDE_NS = `wrenntest-rst-${process.pid}`;
const OUTSIDE_HOST_LINK = `wrt-r${process.pid % 100000}`;
const HOST_SIDE = "198.18.9.1";
const ALLOWED_IP = "198.18.9.2";
const OTHER_IP = "198.18.9.3";
const lab = new GuestLab();
let dns: TestDns;
let d: ProcessTestDeployment;

beforeAll(async () => {
  dns = await startTestDns({ "allowed.test": ALLOWED_IP, "other.test": OTHER_IP });
  await lab.outside(OUTSIDE_NS, OUTSIDE_HOST_LINK, HOST_SIDE, [ALLOWED_IP, OTHER_IP]);
  await lab.startServer(OUTSIDE_NS, "allowed", ALLOWED_IP);
  await lab.startServer(OUTSIDE_NS, "other", OTHER_IP);
  d = await startTestDeploymentWithAgentProcess({
    env: { HOST_MONITOR_INTERVAL_SEC: "1", HOST_STALE_AFTER_SEC: "4" },
    agentEnv: { WRENN_HEARTBEAT_INTERVAL_MS: "1000", WRENN_EGRESS_DNS: `127.0.0.1:${dns.port}` },
  });
});

afterAll(async () => {
  await d?.close();
  dns?.close();
  await lab.cleanup();
});

const api = (method: string, path: string, body?: unknown) => apiCall(d, method, path, body);

async function create(body: Record<string, unknown> = {}): Promise<string> {
  const created = await api("POST", "/v1/sandboxes", { timeout_sec: 0, ...body });
  expect(created.status, created.text).toBe(201);
  return created.body.id as string;
}

async function exec(id: string, cmd: string): Promise<{ exit_code: number; stdout: string }> {
  const res = await api("POST", `/v1/sandboxes/${id}/exec`, { cmd, timeout_sec: 60 });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

/** GET `url` from inside the sandbox (python3, the guest's own resolver): the body, or `FAILED …`. */
async function getFrom(id: string, url: string): Promise<string> {
  const script = `import urllib.request
try: print(urllib.request.urlopen(${JSON.stringify(url)}, timeout=3).read().decode())
except Exception as e: print("FAILED", type(e).__name__, e)`;
  return (await exec(id, `python3 -c '${script}'`)).stdout.trim();
}

/** The host's INPUT rules letting slot `slot`'s guest reach its DNS filter. */
function dnsFilterRules(slot: number): string[] {
  return execFileSync("iptables-save", ["-t", "filter"], { encoding: "utf8" })
    .split("\n")
    .filter(
      (l) => l.startsWith("-A INPUT ") && l.includes("--dport 53") && new RegExp(`wrenn-${slot}\\b`).test(l),
    );
}

/** The agent's record of sandbox `id` (its VM's pid, its network slot, the pool id it runs under when warm). */
async function record(
  id: string,
): Promise<{ runtime: { pid: number; vmId?: string; network: { slot: number } } }> {
  return JSON.parse(await readFile(join(d.agentProcess.dataDir, "sandboxes", id, "sandbox.json"), "utf8"));
}

function alive(pid: number): Promise<boolean> {
  return readFile(`/proc/${pid}/stat`, "utf8").then(
    (stat) => !/\) Z /.test(stat),
    () => false,
  );
}

/** The warm VMs (pool run directories with a live QEMU) under the agent's data directory. */
async function warmVms(): Promise<{ dir: string; pid: number }[]> {
  const dir = join(d.agentProcess.dataDir, "sandboxes");
  const found: { dir: string; pid: number }[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith("warm.")) continue;
    const pid = Number(await readFile(join(dir, name, "vmm.pid"), "utf8").catch(() => ""));
    if (pid > 1 && (await alive(pid))) found.push({ dir: name, pid });
  }
  return found;
}

/** Warm VMs ready to be taken, as the agent's last heartbeat reported them. */
async function warmReady(): Promise<number> {
  const { rows } = await d.database.pool.query<{ wp: { ready: number }[] | null }>(
    "SELECT metadata->'warm_pool' AS wp FROM hosts",
  );
  return rows.flatMap((r) => r.wp ?? []).reduce((sum, w) => sum + w.ready, 0);
}

/** SIGKILLs the agent, waits until the control plane calls the host unreachable, restarts it. */
async function crashAndRestart(): Promise<void> {
  const hostStatus = async () => {
    const res = await fetch(`${d.url}/v1/hosts/${d.hostId}`, {
      headers: { authorization: `Bearer ${d.adminToken}` },
    });
    return ((await res.json()) as { status: string }).status;
  };
  await d.agentProcess.kill("SIGKILL");
  await pollUntil("host status", hostStatus, (s) => s === "unreachable");
  await d.agentProcess.restart();
  await pollUntil("host status", hostStatus, (s) => s === "online");
}

describe("host agent restart", () => {
  it("adopts a running sandbox that came from the warm pool, file and process intact; the old pool's VM goes", async () => {
    // The first create restores on its own and makes the template's pool fill.
    const first = await create();
    await pollUntil("a ready warm VM", warmReady, (n) => n >= 1);
    const id = await create();
    const { runtime } = await record(id);
    expect(runtime.vmId, "the sandbox runs in a VM of the warm pool").toMatch(/^warm\./);
    expect(await exec(id, "echo kept > /tmp/note.txt; echo $WRENN_SANDBOX_ID")).toMatchObject({
      exit_code: 0,
      stdout: `${id}\n`,
    });
    const bgPid = (await exec(id, "setsid sleep 100000 </dev/null >/dev/null 2>&1 & echo $!")).stdout.trim();
    expect(bgPid).toMatch(/^\d+$/);
    // The pool refills after the hand-over: the crash leaves that VM behind too.
    const [leftWarm] = await pollUntil("the pool's next VM", warmVms, (vms) => vms.length === 1);

    await crashAndRestart();
    expect(d.agentProcess.output()).toMatch(new RegExp(`"adopted":\\[[^\\]]*"${id}"`));
    await pollUntil(
      "sandbox state",
      async () => (await api("GET", `/v1/sandboxes/${id}`)).body.state,
      (s) => s === "running",
    );
    // Same VM process, still under the pool's name; the previous run's warm VM was ended and
    // the new agent started none (no create since): only the two sandboxes' VMs run.
    expect((await record(id)).runtime).toMatchObject({ pid: runtime.pid, vmId: runtime.vmId });
    expect(await alive(leftWarm?.pid ?? 0)).toBe(false);
    expect(await warmVms()).toEqual([]);
    const vms = qemuProcessesUnder(d.agentProcess.dataDir).map((q) => q.pid);
    expect(vms.sort()).toEqual([runtime.pid, (await record(first)).runtime.pid].sort());
    expect(await exec(id, `cat /tmp/note.txt; kill -0 ${bgPid} && echo alive`)).toMatchObject({
      exit_code: 0,
      stdout: "kept\nalive\n",
    });
    const read = await api("POST", `/v1/sandboxes/${id}/files/read`, { path: "/tmp/note.txt" });
    expect(read).toMatchObject({ status: 200, text: "kept\n" });

    for (const sandbox of [first, id])
      expect((await api("DELETE", `/v1/sandboxes/${sandbox}`)).status).toBe(204);
    expect(await alive(runtime.pid)).toBe(false);
  });

  it("keeps a sandbox's egress rules (a CIDR denied, a domain allowed) in force after the restart", async () => {
    const id = await create({ allow_internet: false, allow_out: ["allowed.test", `${OTHER_IP}/32:9`] });
    const before = [
      await getFrom(id, "http://allowed.test:8080/"),
      await getFrom(id, `http://${OTHER_IP}:8080/`),
    ];
    expect(before[0]).toMatch(/^allowed /);
    expect(before[1]).toMatch(/^FAILED/);
    const { slot } = (await record(id)).runtime.network;
    expect(dnsFilterRules(slot)).toHaveLength(1);

    await crashAndRestart();
    expect(d.agentProcess.output()).toMatch(new RegExp(`"adopted":\\[[^\\]]*"${id}"`));
    // Allowed by name: the new process's DNS filter answers and lets the answer's address out.
    expect(await getFrom(id, "http://allowed.test:8080/")).toMatch(/^allowed /);
    // Everything else still denied, by address and by a name outside the rules.
    expect(await getFrom(id, `http://${OTHER_IP}:8080/`)).toMatch(/^FAILED/);
    expect(await getFrom(id, "http://other.test:8080/")).toMatch(/^FAILED/);
    // The new DNS filter took over the dead one's host rule instead of adding a second.
    expect(dnsFilterRules(slot)).toHaveLength(1);
    expect((await api("GET", `/v1/sandboxes/${id}`)).body).toMatchObject({
      state: "running",
      allow_internet: false,
      allow_out: ["allowed.test", `${OTHER_IP}/32:9`],
    });
    // The rules can still be changed on the adopted sandbox: opening it lets the rest out.
    const opened = await api("PUT", `/v1/sandboxes/${id}/network`, { allow_internet: true });
    expect(opened.status, opened.text).toBe(200);
    expect(await getFrom(id, `http://${OTHER_IP}:8080/`)).toMatch(/^other /);
    expect(dnsFilterRules(slot)).toEqual([]);
    expect((await api("DELETE", `/v1/sandboxes/${id}`)).status).toBe(204);
  });
});
