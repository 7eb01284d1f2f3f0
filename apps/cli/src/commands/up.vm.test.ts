import { type ChildProcess, execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@wrenn/db";
import { afterAll, describe, expect, it } from "vitest";
import { killVmsUnder } from "./up-agent.ts";
import { spawnUp } from "./up-harness.ts";

// `wrenn up` with its host agent (root, QEMU, real microVMs): registered once, reused on the
// next run, sandboxes paused on Ctrl-C and nothing left running. The agent owns a private
// range of network slots so its start-up cleanup cannot touch anything else on this machine.
const SLOT_FIRST = 3600 + Math.floor(Math.random() * 9) * 10;
const inOurRange = (idx: number) => idx >= SLOT_FIRST && idx <= SLOT_FIRST + 9;
const children: ChildProcess[] = [];
let dataDir = "";

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  if (dataDir) {
    for (const pid of await processesUnder(dataDir)) process.kill(pid, "SIGKILL");
    await rm(dataDir, { recursive: true, force: true });
  }
  for (const ns of ourNetworkLeftovers().filter((l) => /^wrenn-ns-\d+/.test(l))) {
    execFileSync("ip", ["netns", "delete", ns.split(" ")[0] ?? ""]);
  }
});

function startUp(port: number) {
  return spawnUp(["--port", String(port), "--data-dir", dataDir], {
    env: {
      WRENN_NET_SLOTS: `${SLOT_FIRST}-${SLOT_FIRST + 9}`,
      // The monitor never runs during the test: only the agent's own reports keep states true.
      HOST_MONITOR_INTERVAL_SEC: "3600",
    },
    readyTimeoutMs: 300_000,
    children,
  });
}

/** Pids of every process (agent, QEMU, PostgreSQL) whose command line names `dir`. */
async function processesUnder(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    const state = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    if (cmdline.includes(dir) && !/\) Z /.test(state)) pids.push(pid);
  }
  return pids;
}

/** True while the redis-server this `up` run printed is still running. */
function redisRunning(output: string): boolean {
  const port = output.match(/Redis on 127\.0\.0\.1:(\d+)/)?.[1] ?? "none";
  return execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).includes(`redis-server 127.0.0.1:${port}`);
}

function ourNetworkLeftovers(): string[] {
  return [
    ...execFileSync("ip", ["netns", "list"]).toString().split("\n"),
    ...execFileSync("ip", ["-o", "link", "show"]).toString().split("\n"),
    ...execFileSync("iptables-save").toString().split("\n"),
  ].filter((line) =>
    [...line.matchAll(/wrenn-(?:ns-|veth-|vp-)?(\d+)/g)].some((m) => inOurRange(Number(m[1]))),
  );
}

async function api(base: string, method: string, path: string, auth: Record<string, string>, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body ? { "content-type": "application/json" } : {}), ...auth },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: answers are read loosely in this test
  return { status: res.status, text, body: (text ? JSON.parse(text) : {}) as any };
}

describe("wrenn up with a host agent", () => {
  it("registers its agent once, serves sandboxes, pauses them on Ctrl-C and leaves nothing running", {
    timeout: 900_000,
  }, async () => {
    dataDir = await mkdtemp(join(tmpdir(), "wrenn-up-agent-"));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const first = startUp(port);
    await first.ready;
    const hostId = first.output().match(/host agent (host-\S+) online at 127\.0\.0\.1:\d+/)?.[1];
    expect(hostId, first.output()).toBeDefined();
    expect((await stat(join(dataDir, "agent", "host-credentials.json"))).mode & 0o777).toBe(0o600);
    // The one-time registration token never was on a command line (`ps` shows those to everyone).
    expect(execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })).not.toMatch(/wrh_/);
    expect(await readFile(join(dataDir, "agent", "agent.log"), "utf8")).not.toMatch(/wrh_/);

    const creds = { email: "ada@example.com", password: "correct horse battery" };
    expect((await api(base, "POST", "/v1/auth/signup", {}, { name: "Ada", ...creds })).status).toBe(201);
    const login = await api(base, "POST", "/v1/auth/login", {}, creds);
    const key = await api(
      base,
      "POST",
      "/v1/api-keys",
      { authorization: `Bearer ${login.body.token}` },
      {
        name: "k",
      },
    );
    const auth = { "x-api-key": String(key.body.key) };
    // `up` has its agent capture the base template right after start-up, before any create.
    const agentLog = join(dataDir, "agent", "agent.log");
    const prepareDeadline = Date.now() + 180_000;
    while (!(await readFile(agentLog, "utf8")).includes("base templates ready")) {
      expect(Date.now(), await readFile(agentLog, "utf8")).toBeLessThan(prepareDeadline);
      await new Promise((r) => setTimeout(r, 500));
    }
    const created = await api(base, "POST", "/v1/sandboxes", auth, { timeout_sec: 0 });
    expect(created.status, created.text).toBe(201);
    const id = String(created.body.id);
    expect(created.body).toMatchObject({ state: "running", host_id: hostId });
    const wrote = await api(base, "POST", `/v1/sandboxes/${id}/exec`, auth, {
      cmd: "echo kept > /tmp/kept; echo hi",
    });
    expect(wrote.body).toMatchObject({ exit_code: 0, stdout: "hi\n" });

    // The agent crashes: `up` restarts it and the new agent takes the running VM over.
    const agentPid = (await processesUnder(join(dataDir, "agent"))).find((pid) =>
      execFileSync("ps", ["-o", "args=", "-p", String(pid)], { encoding: "utf8" }).includes("host-agent"),
    );
    expect(agentPid).toBeDefined();
    process.kill(agentPid ?? 0, "SIGKILL");
    const back = Date.now() + 120_000;
    while (!first.output().includes("host agent back online") && Date.now() < back) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(first.output()).toContain("host agent back online");
    const after = await api(base, "POST", `/v1/sandboxes/${id}/exec`, auth, { cmd: "cat /tmp/kept" });
    expect(after.body).toMatchObject({ exit_code: 0, stdout: "kept\n" });

    // Ctrl-C: the agent pauses the sandbox to disk and everything exits.
    first.child.kill("SIGINT");
    expect(await first.exit).toBe(0);
    expect(first.output()).toMatch(/stopping host agent[\s\S]*stopping control plane/);
    expect(await processesUnder(dataDir)).toEqual([]);
    expect(redisRunning(first.output())).toBe(false);
    await stat(join(dataDir, "agent", "sandboxes", id, "pause.state"));
    expect(ourNetworkLeftovers()).toEqual([]);

    // Second run: the same host (saved credentials), the sandbox known as paused, resumable.
    const secondStarted = Date.now();
    const second = startUp(port);
    await second.ready;
    expect(second.output()).toContain(`host agent ${hostId} online`);
    const adminPassword = first.output().match(/password: +(\S+)/)?.[1] ?? "";
    const admin = await api(
      base,
      "POST",
      "/v1/auth/login",
      {},
      { email: "admin@wrenn.local", password: adminPassword },
    );
    const hosts = await api(base, "GET", "/v1/hosts", { authorization: `Bearer ${admin.body.token}` });
    const rows = (Array.isArray(hosts.body) ? hosts.body : hosts.body.hosts) as { id: string }[];
    expect(rows.map((h) => h.id)).toEqual([hostId]);
    // At once, through both APIs: the agent reported the pause (at shutdown, and again in its
    // first heartbeat of this run) before `up` said ready.
    expect((await api(base, "GET", `/v1/sandboxes/${id}`, auth)).body.state).toBe("paused");
    expect((await api(base, "GET", `/e2b/sandboxes/${id}`, auth)).body.state).toBe("paused");
    // The first run's agent already reported the pause with its last heartbeat, at Ctrl-C.
    const audit = await api(base, "GET", "/v1/audit-logs?limit=100", {
      authorization: `Bearer ${login.body.token}`,
    });
    const reported = (audit.body.items as { action: string; resource_id: string; created_at: string }[]).find(
      (e) => e.action === "reconcile_paused" && e.resource_id === id,
    );
    expect(reported, audit.text).toBeDefined();
    expect(Date.parse(reported?.created_at ?? "")).toBeLessThan(secondStarted);
    expect((await api(base, "POST", `/v1/sandboxes/${id}/resume`, auth, {})).body).toMatchObject({
      state: "running",
    });
    const read = await api(base, "POST", `/v1/sandboxes/${id}/exec`, auth, { cmd: "cat /tmp/kept" });
    expect(read.body).toMatchObject({ exit_code: 0, stdout: "kept\n" });

    second.child.kill("SIGTERM");
    expect(await second.exit).toBe(0);
    expect(await processesUnder(dataDir)).toEqual([]);
    expect(redisRunning(second.output())).toBe(false);
    expect(await killVmsUnder(join(dataDir, "agent"))).toEqual([]);
    expect(ourNetworkLeftovers()).toEqual([]);
  });
});
