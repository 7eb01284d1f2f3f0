import { startTestDeployment, type TestDeployment } from "@wrenn/testing/deployment";
import { FilesystemEventType, NotFoundError, Sandbox, SandboxNotFoundError } from "e2b";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pointE2bSdkAt } from "./e2b-sdk-env.ts";

// The official `e2b` SDK from npm against a real Wrenn deployment (control plane,
// registered host agent with netns networking, QEMU microVMs), configured only by
// E2B_API_URL, E2B_SANDBOX_URL and E2B_API_KEY (the key's e2b_ form, which the SDK accepts
// as is): lifecycle calls hit the E2B-compatible API under /e2b, every envd call goes
// through the port proxy.
let d: TestDeployment;
let sbx: Sandbox;
let restoreE2bEnv: (() => void) | undefined;

async function untilAsync(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  d = await startTestDeployment({ agentArgs: ["--network", "netns"] });
  restoreE2bEnv = pointE2bSdkAt(d);
  expect(process.env.E2B_API_KEY).toMatch(/^e2b_[0-9a-f]+$/);
}, 120_000);

afterAll(async () => {
  restoreE2bEnv?.();
  await d?.close();
});

describe("official e2b SDK against Wrenn", () => {
  it("creates a sandbox (default template, metadata, envs)", async () => {
    const before = Date.now();
    sbx = await Sandbox.create({
      metadata: { suite: "e2b-sdk" },
      envs: { GREETING: "hello" },
      timeoutMs: 600_000,
      lifecycle: { onTimeout: "pause" }, // sent as autoPause: true
    });
    expect(sbx.sandboxId).toMatch(/^sb-[0-9a-f-]{36}$/);
    const info = await sbx.getInfo();
    expect(info).toMatchObject({
      sandboxId: sbx.sandboxId,
      state: "running",
      metadata: { suite: "e2b-sdk" },
    });
    // E2B's absolute end time: 600 s after create, whatever happens in between.
    expect(info.endAt.getTime()).toBeGreaterThanOrEqual(before + 600_000 - 1000);
    expect(info.endAt.getTime()).toBeLessThanOrEqual(Date.now() + 600_000 + 1000);
    expect(info.lifecycle).toMatchObject({ onTimeout: "pause", autoResume: false });
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

    // E2B's envd semantics: a symlink's absolute target; removing a missing path succeeds.
    await sbx.commands.run("ln -s a.txt /tmp/e2b/link");
    expect(await sbx.files.getInfo("/tmp/e2b/link")).toMatchObject({ symlinkTarget: "/tmp/e2b/a.txt" });
    await sbx.files.remove("/tmp/e2b/link");
    await sbx.files.remove("/tmp/e2b/not-there");
    expect(await sbx.files.exists("/tmp/e2b/link")).toBe(false);
    // Several files in one call; their missing parents are created under root-owned /opt.
    await sbx.files.write([
      { path: "/opt/e2b-multi/a/1.txt", data: "one" },
      { path: "/opt/e2b-multi/b/2.txt", data: "two" },
    ]);
    expect(await sbx.files.read("/opt/e2b-multi/b/2.txt")).toBe("two");
    expect(await sbx.files.getInfo("/opt/e2b-multi/a")).toMatchObject({ type: "dir", owner: "user" });
    // File metadata: X-Metadata-* on the write, user.e2b.* xattrs in the guest, in getInfo and list.
    const tagged = await sbx.files.write("/home/user/meta/tagged.txt", "tagged", {
      metadata: { owner: "alice", purpose: "e2b-test" },
    });
    expect(tagged.metadata).toEqual({ owner: "alice", purpose: "e2b-test" });
    await sbx.files.write("/home/user/meta/plain.txt", "plain");
    expect((await sbx.files.getInfo("/home/user/meta/tagged.txt")).metadata).toEqual({
      owner: "alice",
      purpose: "e2b-test",
    });
    const listed = await sbx.files.list("/home/user/meta");
    expect(Object.fromEntries(listed.map((e) => [e.name, e.metadata]))).toEqual({
      "plain.txt": undefined,
      "tagged.txt": { owner: "alice", purpose: "e2b-test" },
    });
    const xattrs = await sbx.commands.run(
      `python3 -c "import os; print(sorted(os.listxattr('/home/user/meta/tagged.txt')))"`,
    );
    expect(xattrs.stdout).toBe("['user.e2b.owner', 'user.e2b.purpose']\n");
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
    // E2B's order (by start time), startedAfter and template (E2B's "base" = Wrenn's "minimal").
    const query = {
      metadata: { suite: "e2b-sdk" },
      template: "base",
      startedAfter: new Date(Date.now() - 3_600_000),
    };
    const oldestFirst = await Sandbox.list({ query, order: "asc" }).nextItems();
    expect(oldestFirst.map((s) => s.sandboxId)).toEqual([sbx.sandboxId, second.sandboxId]);
    const newestFirst = await Sandbox.list({ query }).nextItems();
    expect(newestFirst.map((s) => s.sandboxId)).toEqual([second.sandboxId, sbx.sandboxId]);
    const later = { ...query, startedAfter: new Date(Date.now() + 60_000) };
    expect(await Sandbox.list({ query: later }).nextItems()).toEqual([]);
    const paginator = Sandbox.list({ query: { metadata: { suite: "e2b-sdk" } }, limit: 1 });
    const first = await paginator.nextItems();
    expect(first).toHaveLength(1);
    expect(paginator.hasNext).toBe(true);
    const rest = await paginator.nextItems();
    expect(paginator.hasNext).toBe(false);
    expect([...first, ...rest].map((s) => s.sandboxId).sort()).toEqual(
      [sbx.sandboxId, second.sandboxId].sort(),
    );
    // Created without a lifecycle: killed at its end time (setTimeout may shorten it).
    await second.setTimeout(1_000);
    await untilAsync("the expired sandbox to be killed", async () => {
      try {
        await second.getInfo();
        return false;
      } catch (err) {
        return err instanceof NotFoundError;
      }
    });

    const endBefore = (await sbx.getInfo()).endAt.getTime();
    await Sandbox.connect(sbx.sandboxId, { timeoutMs: 60_000 }); // connect never shortens it
    expect((await sbx.getInfo()).endAt.getTime()).toBe(endBefore);
    await sbx.setTimeout(300_000); // a new end, 300 s from now
    const endAfter = (await sbx.getInfo()).endAt.getTime();
    expect(Math.abs(endAfter - (Date.now() + 300_000))).toBeLessThan(5_000);
    const metrics = await sbx.getMetrics();
    expect(Array.isArray(metrics)).toBe(true);
    for (const m of metrics) expect(m).toMatchObject({ cpuCount: 1, memTotal: expect.any(Number) });
  });

  it("pauses, then connect resumes it with its files intact; auto-pauses at its end time", async () => {
    expect(await sbx.pause()).toBe(true);
    expect((await sbx.getInfo()).state).toBe("paused");
    expect(await sbx.pause()).toBe(false); // already paused: 409, as E2B answers
    // envd through the proxy answers E2B's 502 for a paused sandbox: not running, no error.
    expect(await sbx.isRunning()).toBe(false);
    const paused = await Sandbox.list({ query: { state: ["paused"] } }).nextItems();
    expect(paused.map((s) => s.sandboxId)).toContain(sbx.sandboxId);

    const again = await Sandbox.connect(sbx.sandboxId);
    expect((await again.getInfo()).state).toBe("running");
    expect(await again.files.read("/tmp/e2b/a.txt")).toBe("file content\n");
    expect((await again.files.getInfo("/home/user/meta/tagged.txt")).metadata).toMatchObject({
      owner: "alice",
    });
    expect((await again.commands.run("echo resumed")).stdout).toBe("resumed\n");
    sbx = again;

    // Created with lifecycle.onTimeout "pause": paused, not killed, at its end time; connect resumes.
    await sbx.setTimeout(1_000);
    await untilAsync(
      "the expired sandbox to be paused",
      async () => (await sbx.getInfo()).state === "paused",
    );
    sbx = await Sandbox.connect(sbx.sandboxId, { timeoutMs: 300_000 });
    expect((await sbx.commands.run("cat /tmp/e2b/a.txt")).stdout).toBe("file content\n");
  }, 180_000);

  it("auto-resumes a paused sandbox on envd and port traffic, one resume for concurrent requests", async () => {
    const auto = await Sandbox.create({
      timeoutMs: 60_000,
      lifecycle: { onTimeout: "pause", autoResume: true }, // sent as autoPause + autoResume.enabled
    });
    expect((await auto.getInfo()).lifecycle).toMatchObject({ onTimeout: "pause", autoResume: true });
    try {
      await auto.files.write("/home/user/state.txt", "kept\n");
      await auto.commands.run("python3 -m http.server 8000 --directory /home/user", { background: true });
      const portUrl = `${d.url}/state.txt`;
      const portHeaders = {
        "E2b-Sandbox-Id": auto.sandboxId,
        "E2b-Sandbox-Port": "8000",
        "X-Access-Token": (auto as unknown as { envdAccessToken: string }).envdAccessToken,
      };
      await untilAsync(
        "the sandbox's web server",
        async () => (await fetch(portUrl, { headers: portHeaders })).ok,
      );

      // Paused: the next envd calls (three at once) wake it; they all wait for the same resume.
      expect(await auto.pause()).toBe(true);
      const resumedAt = Date.now();
      const [read, echoed, listed] = await Promise.all([
        auto.files.read("/home/user/state.txt"),
        auto.commands.run("echo awake"),
        auto.files.list("/home/user"),
      ]);
      expect(read).toBe("kept\n");
      expect(echoed.stdout).toBe("awake\n");
      expect(listed.map((e) => e.name)).toContain("state.txt");
      const info = await auto.getInfo();
      expect(info.state).toBe("running");
      // E2B: after an auto-resume the creation timeout runs again from the resume, at least 5 minutes.
      expect(Math.abs(info.endAt.getTime() - (resumedAt + 300_000))).toBeLessThan(15_000);
      const resumes = async () =>
        (
          await d.database.pool.query<{ n: string }>(
            "SELECT count(*) AS n FROM audit_logs WHERE resource_id = $1 AND action = 'resume' AND actor_type = 'system'",
            [auto.sandboxId],
          )
        ).rows[0]?.n;
      expect(await resumes()).toBe("1");

      // Port traffic wakes it too, and the web server inside answers as before the pause.
      expect(await auto.pause()).toBe(true);
      const page = await fetch(portUrl, { headers: portHeaders });
      expect({ status: page.status, body: await page.text() }).toEqual({ status: 200, body: "kept\n" });
      expect(await resumes()).toBe("2");
    } finally {
      await auto.kill(); // also when an assertion failed: the next test expects no sandboxes
    }
  }, 180_000);

  it("kills the sandbox; it is gone afterwards", async () => {
    expect(await sbx.kill()).toBe(true);
    expect(await Sandbox.kill(sbx.sandboxId)).toBe(false);
    expect(await sbx.isRunning()).toBe(false);
    // The proxy's 502 for a killed sandbox (Connect's Unavailable) is the SDK's "not running anymore".
    await expect(sbx.commands.run("echo too late")).rejects.toBeInstanceOf(SandboxNotFoundError);
    await expect(Sandbox.getInfo(sbx.sandboxId)).rejects.toBeInstanceOf(NotFoundError);
    expect(await Sandbox.list().nextItems()).toEqual([]);
  });
});
