import { FilesystemEventType, NotFoundError, Sandbox } from "e2b";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestDeployment, type TestDeployment } from "../testing-deployment.ts";

// The official `e2b` SDK from npm against a real Wrenn deployment (control plane,
// registered host agent with netns networking, QEMU microVMs), configured only by
// E2B_API_URL, E2B_SANDBOX_URL and E2B_API_KEY: lifecycle calls hit the E2B-compatible
// API under /e2b, every envd call goes through the port proxy.
let d: TestDeployment;
let sbx: Sandbox;
const saved: Record<string, string | undefined> = {};
const E2B_VARS = [
  "E2B_API_URL",
  "E2B_SANDBOX_URL",
  "E2B_API_KEY",
  "E2B_DOMAIN",
  "E2B_DEBUG",
  "E2B_ACCESS_TOKEN",
];

async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  d = await startTestDeployment({ agentArgs: ["--network", "netns"] });
  for (const name of E2B_VARS) {
    saved[name] = process.env[name];
    delete process.env[name];
  }
  process.env.E2B_API_URL = `${d.url}/e2b`;
  process.env.E2B_SANDBOX_URL = d.url;
  process.env.E2B_API_KEY = d.apiKey;
}, 120_000);

afterAll(async () => {
  for (const name of E2B_VARS) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  await d?.close();
});

describe("official e2b SDK against Wrenn", () => {
  it("creates a sandbox (default template, metadata, envs)", async () => {
    sbx = await Sandbox.create({
      metadata: { suite: "e2b-sdk" },
      envs: { GREETING: "hello" },
      timeoutMs: 600_000,
    });
    expect(sbx.sandboxId).toMatch(/^sb-[0-9a-f-]{36}$/);
    const info = await sbx.getInfo();
    expect(info).toMatchObject({
      sandboxId: sbx.sandboxId,
      state: "running",
      metadata: { suite: "e2b-sdk" },
    });
    expect(await sbx.isRunning()).toBe(true);
  }, 180_000);

  it("runs a foreground command with streaming callbacks", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const result = await sbx.commands.run("echo $GREETING; echo to-stderr >&2; echo $((6 * 7))", {
      onStdout: (data) => void out.push(data),
      onStderr: (data) => void err.push(data),
    });
    expect(result).toMatchObject({ exitCode: 0, stdout: "hello\n42\n", stderr: "to-stderr\n" });
    expect(out.join("")).toBe("hello\n42\n");
    expect(err.join("")).toBe("to-stderr\n");
    await expect(sbx.commands.run("exit 3")).rejects.toMatchObject({ exitCode: 3 });
  });

  it("runs a background command, sends stdin and kills it", async () => {
    const out: string[] = [];
    const handle = await sbx.commands.run("cat", {
      background: true,
      stdin: true,
      onStdout: (data) => void out.push(data),
    });
    expect((await sbx.commands.list()).map((p) => p.pid)).toContain(handle.pid);
    await sbx.commands.sendStdin(handle.pid, "through the proxy\n");
    await until("stdin echoed on stdout", () => out.join("").includes("through the proxy\n"));
    expect(await handle.kill()).toBe(true);
  });

  it("writes, reads, lists and watches files", async () => {
    await sbx.files.makeDir("/tmp/e2b");
    const events: { name: string; type: FilesystemEventType }[] = [];
    const watcher = await sbx.files.watchDir(
      "/tmp/e2b",
      (e) => void events.push({ name: e.name, type: e.type }),
    );
    await sbx.files.write("/tmp/e2b/a.txt", "file content\n");
    expect(await sbx.files.read("/tmp/e2b/a.txt")).toBe("file content\n");
    const big = "0123456789".repeat(100_000);
    await sbx.files.write("/tmp/e2b/big.txt", big);
    expect(await sbx.files.read("/tmp/e2b/big.txt")).toBe(big);
    const names = (await sbx.files.list("/tmp/e2b")).map((e) => e.name).sort();
    expect(names).toEqual(["a.txt", "big.txt"]);
    await until("a watch event for a.txt", () =>
      events.some((e) => e.name === "a.txt" && e.type === FilesystemEventType.CREATE),
    );
    await watcher.stop();
  });

  it("opens a PTY, types into it and reads the output", async () => {
    const decoder = new TextDecoder();
    let screen = "";
    const terminal = await sbx.pty.create({
      cols: 80,
      rows: 24,
      onData: (data) => {
        screen += decoder.decode(data, { stream: true });
      },
    });
    await sbx.pty.sendInput(terminal.pid, new TextEncoder().encode("echo PTY-$((6 * 7)); tty\n"));
    await until("the PTY's output", () => screen.includes("PTY-42") && screen.includes("/dev/pts/"));
    expect(await sbx.pty.kill(terminal.pid)).toBe(true);
  });

  it("lists sandboxes by state and metadata, page by page, sets the timeout, reads metrics", async () => {
    const page = await Sandbox.list({
      query: { metadata: { suite: "e2b-sdk" }, state: ["running"] },
    }).nextItems();
    expect(page.map((s) => s.sandboxId)).toEqual([sbx.sandboxId]);
    expect(await Sandbox.list({ query: { metadata: { suite: "other" } } }).nextItems()).toEqual([]);

    // Pagination (nextToken / X-Next-Token) and metadata with characters that need encoding.
    const second = await Sandbox.create({ metadata: { suite: "e2b-sdk", "odd key": "a&b=c%d" } });
    const odd = await Sandbox.list({ query: { metadata: { "odd key": "a&b=c%d" } } }).nextItems();
    expect(odd.map((s) => s.sandboxId)).toEqual([second.sandboxId]);
    const paginator = Sandbox.list({ query: { metadata: { suite: "e2b-sdk" } }, limit: 1 });
    const first = await paginator.nextItems();
    expect(first).toHaveLength(1);
    expect(paginator.hasNext).toBe(true);
    const rest = await paginator.nextItems();
    expect(paginator.hasNext).toBe(false);
    expect([...first, ...rest].map((s) => s.sandboxId).sort()).toEqual(
      [sbx.sandboxId, second.sandboxId].sort(),
    );
    expect(await second.kill()).toBe(true);

    await sbx.setTimeout(300_000);
    const stored = await fetch(`${d.url}/v1/sandboxes/${sbx.sandboxId}`, {
      headers: { "x-api-key": d.apiKey },
    });
    expect(await stored.json()).toMatchObject({ timeout_sec: 300 });
    const metrics = await sbx.getMetrics();
    expect(Array.isArray(metrics)).toBe(true);
    for (const m of metrics) expect(m).toMatchObject({ cpuCount: 1, memTotal: expect.any(Number) });
  });

  it("pauses, then connect resumes it with its files and processes' effects intact", async () => {
    expect(await sbx.pause()).toBe(true);
    expect((await sbx.getInfo()).state).toBe("paused");
    expect(await sbx.pause()).toBe(false); // already paused: 409, as E2B answers
    const paused = await Sandbox.list({ query: { state: ["paused"] } }).nextItems();
    expect(paused.map((s) => s.sandboxId)).toContain(sbx.sandboxId);

    const again = await Sandbox.connect(sbx.sandboxId);
    expect((await again.getInfo()).state).toBe("running");
    expect(await again.files.read("/tmp/e2b/a.txt")).toBe("file content\n");
    expect((await again.commands.run("echo resumed")).stdout).toBe("resumed\n");
    sbx = again;
  }, 180_000);

  it("kills the sandbox; it is gone afterwards", async () => {
    expect(await sbx.kill()).toBe(true);
    expect(await Sandbox.kill(sbx.sandboxId)).toBe(false);
    await expect(Sandbox.getInfo(sbx.sandboxId)).rejects.toBeInstanceOf(NotFoundError);
    expect(await Sandbox.list().nextItems()).toEqual([]);
  });
});
