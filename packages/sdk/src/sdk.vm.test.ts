import { startTestDeployment, type TestDeployment } from "@wrenn/testing/deployment";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AuthenticationError,
  CommandExitError,
  type CommandHandle,
  FailedPreconditionError,
  type FilesystemEvent,
  InvalidArgumentError,
  NotFoundError,
  Sandbox,
  TimeoutError,
} from "./index.ts";

// The SDK against a whole real deployment: a listening control plane (PostgreSQL,
// Redis), a registered host agent with netns networking running QEMU microVMs, and
// every envd call through the control plane's port proxy (E2b-Sandbox-Id/Port headers).
let d: TestDeployment;
let sandbox: Sandbox;
const HOME = "/home/user";

// Guest output under software emulation on a loaded 2-core CI machine: a minute, not seconds.
const until = async (check: () => boolean, what: string, ms = 60_000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

beforeAll(async () => {
  d = await startTestDeployment({ agentArgs: ["--network", "netns"] });
  sandbox = await Sandbox.create({
    apiKey: d.apiKey,
    apiUrl: d.url,
    template: "minimal",
    timeoutMs: 0,
    metadata: { suite: "sdk", owner: "ada" },
    envs: { FROM_CREATE: "created" },
    vcpus: 1,
    memoryMb: 512,
  });
});

afterAll(async () => {
  await d?.close();
});

describe("lifecycle", () => {
  it("create answers a running sandbox with the requested settings", async () => {
    expect(sandbox.sandboxId).toMatch(/^sb-/);
    expect(sandbox.envdAccessToken).toBeTruthy();
    const info = await sandbox.getInfo();
    expect(info).toMatchObject({
      sandboxId: sandbox.sandboxId,
      state: "running",
      template: "minimal",
      vcpus: 1,
      memoryMb: 512,
      timeoutMs: 0,
      metadata: { suite: "sdk", owner: "ada" },
      hostId: d.hostId,
    });
    expect(info.createdAt).toBeInstanceOf(Date);
    expect((await Sandbox.getInfo(sandbox.sandboxId, { apiKey: d.apiKey, apiUrl: d.url })).state).toBe(
      "running",
    );
  });

  it("reads the key and URL from WRENN_API_KEY / WRENN_API_URL", async () => {
    const saved = { key: process.env.WRENN_API_KEY, url: process.env.WRENN_API_URL };
    process.env.WRENN_API_KEY = d.apiKey;
    process.env.WRENN_API_URL = d.url;
    try {
      expect((await Sandbox.getInfo(sandbox.sandboxId)).sandboxId).toBe(sandbox.sandboxId);
    } finally {
      for (const [name, value] of [
        ["WRENN_API_KEY", saved.key],
        ["WRENN_API_URL", saved.url],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it("getHost names the port-proxy host of a port", () => {
    expect(sandbox.getHost(8000)).toBe(`8000-${sandbox.sandboxId}.${new URL(d.url).host}`);
    expect(() => sandbox.getHost(0)).toThrow(/port/);
  });

  it("getMetrics answers CPU, memory and disk samples", async () => {
    let points = 0;
    const end = Date.now() + 60_000;
    while (points === 0 && Date.now() < end) {
      const metrics = await sandbox.getMetrics({ range: "5m" });
      expect(metrics.range).toBe("5m");
      points = metrics.points.length;
      if (points) {
        const last = metrics.points.at(-1);
        expect(last?.timestamp).toBeInstanceOf(Date);
        expect(last?.memoryRssBytes).toBeGreaterThan(0);
      } else await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    expect(points).toBeGreaterThan(0);
  });
});

describe("commands", () => {
  it("run answers exit code and output, streams both streams, and passes envs, cwd and user", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const result = await sandbox.commands.run('echo "$FROM_CREATE $FROM_RUN"; echo oops >&2; pwd; whoami', {
      envs: { FROM_RUN: "ran" },
      cwd: "/tmp",
      user: "root",
      onStdout: (data) => {
        out.push(data);
      },
      onStderr: (data) => {
        err.push(data);
      },
    });
    expect(result).toMatchObject({ exitCode: 0, stdout: "created ran\n/tmp\nroot\n", stderr: "oops\n" });
    expect(out.join("")).toBe(result.stdout);
    expect(err.join("")).toBe("oops\n");
    const asUser = await sandbox.commands.run("whoami; pwd");
    expect(asUser.stdout).toBe(`user\n${HOME}\n`);
  });

  it("a non-zero exit throws CommandExitError carrying the result", async () => {
    const failure = await sandbox.commands.run("echo partial; exit 7").catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(CommandExitError);
    expect(failure).toMatchObject({ exitCode: 7, stdout: "partial\n" });
    expect((failure as CommandExitError).result.exitCode).toBe(7);
  });

  it("stdin data is piped in and closed", async () => {
    const result = await sandbox.commands.run("tr a-z A-Z", { stdin: "shout\n" });
    expect(result.stdout).toBe("SHOUT\n");
  });

  it("timeoutMs kills a command that runs too long and throws TimeoutError", async () => {
    const started = Date.now();
    await expect(sandbox.commands.run("sleep 60", { timeoutMs: 1500 })).rejects.toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(30_000);
    const left = await sandbox.commands.list();
    expect(left.some((p) => p.args.includes("sleep 60"))).toBe(false);
  });

  it("background: a handle with pid, sendStdin, closeStdin, wait, and the process in list()", async () => {
    const chunks: string[] = [];
    const cat = await sandbox.commands.run("cat", {
      background: true,
      onStdout: (data) => {
        chunks.push(data);
      },
    });
    expect(cat.pid).toBeGreaterThan(0);
    expect((await sandbox.commands.list()).map((p) => p.pid)).toContain(cat.pid);
    await cat.sendStdin("first\n");
    await until(() => chunks.join("") === "first\n", "the echoed stdin");
    await sandbox.commands.sendStdin(cat.pid, "second\n");
    await cat.closeStdin();
    const result = await cat.wait();
    expect(result).toMatchObject({ exitCode: 0, stdout: "first\nsecond\n" });
    expect(cat.exitCode).toBe(0);

    const wc = await sandbox.commands.run("wc -c", { background: true });
    await wc.sendStdin("12345");
    await sandbox.commands.closeStdin(wc.pid);
    expect((await wc.wait()).stdout.trim()).toBe("5");
  });

  it("disconnect leaves the process running; connect(pid) reattaches; kill ends it", async () => {
    const ticker = await sandbox.commands.run("for i in $(seq 1 600); do echo tick $i; sleep 0.2; done", {
      background: true,
    });
    await until(() => ticker.stdout.includes("tick 1"), "the first tick");
    ticker.disconnect();
    await expect(ticker.wait()).rejects.toThrow(/disconnected|ended/);

    const seen: string[] = [];
    const again: CommandHandle = await sandbox.commands.connect(ticker.pid, {
      onStdout: (data) => {
        seen.push(data);
      },
    });
    expect(again.pid).toBe(ticker.pid);
    await until(() => seen.join("").includes("tick"), "ticks after reconnecting");
    expect(await again.kill()).toBe(true);
    const ended = await again.wait().catch((e: unknown) => e);
    expect(ended).toBeInstanceOf(CommandExitError);
    expect((await sandbox.commands.list()).map((p) => p.pid)).not.toContain(ticker.pid);
    expect(await sandbox.commands.kill(ticker.pid)).toBe(false);
    await expect(sandbox.commands.connect(ticker.pid)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("commands.kill(pid) ends a background process", async () => {
    const sleeper = await sandbox.commands.run("sleep 300", { background: true });
    expect(await sandbox.commands.kill(sleeper.pid)).toBe(true);
    const result = await sleeper.wait().catch((e: CommandExitError) => e.result);
    expect(result.exitCode).not.toBe(0);
  });
});

describe("files", () => {
  it("write, read (text, bytes, stream), getInfo, exists", async () => {
    const info = await sandbox.files.write(`${HOME}/dir/hello.txt`, "hello wrenn");
    expect(info).toMatchObject({ name: "hello.txt", path: `${HOME}/dir/hello.txt`, type: "file" });
    expect(await sandbox.files.read(`${HOME}/dir/hello.txt`)).toBe("hello wrenn");
    const bytes = new Uint8Array(256).map((_, i) => i);
    await sandbox.files.write(`${HOME}/bytes.bin`, bytes);
    expect(await sandbox.files.read(`${HOME}/bytes.bin`, { format: "bytes" })).toEqual(bytes);
    const stream = await sandbox.files.read(`${HOME}/dir/hello.txt`, { format: "stream" });
    expect(await new Response(stream).text()).toBe("hello wrenn");

    const stat = await sandbox.files.getInfo(`${HOME}/bytes.bin`);
    expect(stat).toMatchObject({ name: "bytes.bin", type: "file", size: 256, owner: "user" });
    expect(stat.modifiedTime).toBeInstanceOf(Date);
    expect(await sandbox.files.exists(`${HOME}/bytes.bin`)).toBe(true);
    expect(await sandbox.files.exists(`${HOME}/missing`)).toBe(false);
    // The command sees what the files API wrote.
    expect((await sandbox.commands.run(`cat ${HOME}/dir/hello.txt`)).stdout).toBe("hello wrenn");
  });

  it("write of several entries at once and of a stream; files as another user", async () => {
    const written = await sandbox.files.write([
      { path: `${HOME}/multi/a.txt`, data: "A" },
      { path: `${HOME}/multi/b.txt`, data: new TextEncoder().encode("B") },
    ]);
    expect(written.map((w) => w.path).sort()).toEqual([`${HOME}/multi/a.txt`, `${HOME}/multi/b.txt`]);
    expect(await sandbox.files.read(`${HOME}/multi/b.txt`)).toBe("B");
    await sandbox.files.write(`${HOME}/streamed.txt`, new Blob(["streamed body"]).stream());
    expect(await sandbox.files.read(`${HOME}/streamed.txt`)).toBe("streamed body");
    await sandbox.files.write("/root/secret.txt", "root only", { user: "root" });
    expect((await sandbox.files.getInfo("/root/secret.txt", { user: "root" })).owner).toBe("root");
    await expect(sandbox.files.read("/root/secret.txt")).rejects.toThrow();
  });

  it("list (depth), makeDir, rename, remove", async () => {
    expect(await sandbox.files.makeDir(`${HOME}/tree/sub/deep`)).toBe(true);
    expect(await sandbox.files.makeDir(`${HOME}/tree/sub/deep`)).toBe(false);
    await sandbox.files.write(`${HOME}/tree/sub/f.txt`, "f");
    const shallow = await sandbox.files.list(`${HOME}/tree`);
    expect(shallow.map((e) => [e.name, e.type])).toEqual([["sub", "dir"]]);
    const deep = (await sandbox.files.list(`${HOME}/tree`, { depth: 3 })).map((e) => e.path).sort();
    expect(deep).toEqual([`${HOME}/tree/sub`, `${HOME}/tree/sub/deep`, `${HOME}/tree/sub/f.txt`]);
    const moved = await sandbox.files.rename(`${HOME}/tree/sub/f.txt`, `${HOME}/tree/g.txt`);
    expect(moved).toMatchObject({ name: "g.txt", path: `${HOME}/tree/g.txt`, type: "file" });
    expect(await sandbox.files.exists(`${HOME}/tree/sub/f.txt`)).toBe(false);
    await sandbox.files.remove(`${HOME}/tree`);
    expect(await sandbox.files.exists(`${HOME}/tree`)).toBe(false);
  });

  it("missing paths are NotFoundError", async () => {
    await expect(sandbox.files.read(`${HOME}/nope.txt`)).rejects.toBeInstanceOf(NotFoundError);
    await expect(sandbox.files.getInfo(`${HOME}/nope.txt`)).rejects.toBeInstanceOf(NotFoundError);
    await expect(sandbox.files.list(`${HOME}/nope`)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("watchDir reports creates, writes and removes (recursive) until stop()", async () => {
    await sandbox.files.makeDir(`${HOME}/watched/inner`);
    const events: FilesystemEvent[] = [];
    let exited = false;
    const watch = await sandbox.files.watchDir(
      `${HOME}/watched`,
      (e) => {
        events.push(e);
      },
      {
        recursive: true,
        onExit: () => {
          exited = true;
        },
      },
    );
    await sandbox.files.write(`${HOME}/watched/top.txt`, "1");
    await sandbox.files.write(`${HOME}/watched/inner/nested.txt`, "2");
    await sandbox.files.remove(`${HOME}/watched/top.txt`);
    await until(
      () =>
        events.some((e) => e.name === "top.txt" && e.type === "create") &&
        events.some((e) => e.name === "inner/nested.txt" && e.type === "write") &&
        events.some((e) => e.name === "top.txt" && e.type === "remove"),
      `create/write/remove events (got ${JSON.stringify(events)})`,
    );
    await watch.stop();
    expect(exited).toBe(true);
    const count = events.length;
    await sandbox.files.write(`${HOME}/watched/after.txt`, "3");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(events.length).toBe(count);
  });
});

describe("pty", () => {
  it("create, sendInput, resize and kill a terminal", async () => {
    let screen = "";
    const decoder = new TextDecoder();
    const term = await sandbox.pty.create({
      cols: 80,
      rows: 24,
      onData: (data) => {
        screen += decoder.decode(data, { stream: true });
      },
    });
    expect(term.pid).toBeGreaterThan(0);
    await sandbox.pty.sendInput(term.pid, new TextEncoder().encode("stty size; echo mark-$((6*7))\n"));
    await until(
      () => screen.includes("24 80") && screen.includes("mark-42"),
      `stty output (got ${JSON.stringify(screen)})`,
    );
    await sandbox.pty.resize(term.pid, { cols: 132, rows: 40 });
    await sandbox.pty.sendInput(term.pid, "stty size\n");
    await until(() => screen.includes("40 132"), "the new size");
    expect(await sandbox.pty.kill(term.pid)).toBe(true);
    await expect(term.wait()).rejects.toBeInstanceOf(CommandExitError);
  });
});

describe("listing", () => {
  it("list filters by state and metadata and pages with a cursor", async () => {
    const second = await Sandbox.create({
      apiKey: d.apiKey,
      apiUrl: d.url,
      timeoutMs: 0,
      metadata: { suite: "sdk", owner: "bob" },
    });
    try {
      const conn = { apiKey: d.apiKey, apiUrl: d.url };
      const all: string[] = [];
      for await (const info of Sandbox.list({ ...conn, state: ["running"], limit: 1 }))
        all.push(info.sandboxId);
      // Newest first, one per page.
      expect(all).toEqual([second.sandboxId, sandbox.sandboxId]);
      const pages = Sandbox.list({ ...conn, limit: 1 });
      expect(pages.hasNext).toBe(true);
      expect((await pages.nextItems()).map((s) => s.sandboxId)).toEqual([second.sandboxId]);
      expect(pages.nextCursor).toBeTruthy();
      expect((await pages.nextItems()).map((s) => s.sandboxId)).toEqual([sandbox.sandboxId]);
      expect(await pages.nextItems()).toEqual([]);
      expect(pages.hasNext).toBe(false);
      const ada = await Sandbox.list({ ...conn, metadata: { owner: "ada" } }).nextItems();
      expect(ada.map((s) => s.sandboxId)).toEqual([sandbox.sandboxId]);
      expect(await Sandbox.list({ ...conn, state: ["paused"] }).nextItems()).toEqual([]);
    } finally {
      expect(await Sandbox.kill(second.sandboxId, { apiKey: d.apiKey, apiUrl: d.url })).toBe(true);
    }
  });
});

describe("timeout and snapshots", () => {
  it("setTimeout changes the inactivity timeout the control plane reports", async () => {
    const info = await sandbox.setTimeout(600_000);
    expect(info.timeoutMs).toBe(600_000);
    expect((await sandbox.getInfo()).timeoutMs).toBe(600_000);
    // Rounded up to whole seconds; a negative value never leaves the client.
    expect((await sandbox.setTimeout(1)).timeoutMs).toBe(1000);
    await expect(sandbox.setTimeout(-1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(sandbox.setTimeout(86_401_000)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect((await sandbox.setTimeout(0)).timeoutMs).toBe(0);
  });

  it("createSnapshot captures a template that new sandboxes start from", async () => {
    await sandbox.files.write(`${HOME}/snap-marker.txt`, "captured");
    const snap = await sandbox.createSnapshot({ name: "sdk-snap" });
    expect(snap).toMatchObject({ name: "sdk-snap", type: "snapshot" });
    expect(snap.snapshotId).toMatch(/^tpl-/);
    expect(snap.sizeBytes).toBeGreaterThan(0);
    // The source keeps running.
    expect((await sandbox.getInfo()).state).toBe("running");
    const child = await Sandbox.create({
      apiKey: d.apiKey,
      apiUrl: d.url,
      template: "sdk-snap",
      timeoutMs: 0,
    });
    try {
      expect((await child.getInfo()).template).toBe("sdk-snap");
      expect(await child.files.read(`${HOME}/snap-marker.txt`)).toBe("captured");
    } finally {
      await child.kill();
    }
  });
});

describe("errors", () => {
  it("a bad API key is AuthenticationError, on REST and on connect", async () => {
    await expect(Sandbox.list({ apiKey: "wrn_not_a_key", apiUrl: d.url }).nextItems()).rejects.toBeInstanceOf(
      AuthenticationError,
    );
    await expect(
      Sandbox.connect(sandbox.sandboxId, { apiKey: "wrn_not_a_key", apiUrl: d.url }),
    ).rejects.toBeInstanceOf(AuthenticationError);
  });

  it("another team's sandbox is NotFoundError", async () => {
    const other = await d.newTeam("Other");
    await expect(
      Sandbox.connect(sandbox.sandboxId, { apiKey: other.apiKey, apiUrl: d.url }),
    ).rejects.toBeInstanceOf(NotFoundError);
  });

  it("connect to a running sandbox answers its envd access token (no resume)", async () => {
    const connected = await Sandbox.connect(sandbox.sandboxId, { apiKey: d.apiKey, apiUrl: d.url });
    expect(connected.envdAccessToken).toBe(sandbox.envdAccessToken);
    expect((await connected.commands.run("echo via connect")).stdout).toBe("via connect\n");
  });
});

describe("pause and resume", () => {
  it("pause keeps memory and disk; connect resumes; commands on a paused sandbox fail", async () => {
    const keeper = await sandbox.commands.run("sleep 3600", { background: true });
    keeper.disconnect();
    await sandbox.files.write(`${HOME}/persist.txt`, "kept across pause");
    const paused = await sandbox.pause();
    expect(paused.state).toBe("paused");
    expect((await sandbox.getInfo()).state).toBe("paused");
    await expect(sandbox.commands.run("true")).rejects.toBeInstanceOf(FailedPreconditionError);

    const resumed = await Sandbox.connect(sandbox.sandboxId, { apiKey: d.apiKey, apiUrl: d.url });
    expect((await resumed.getInfo()).state).toBe("running");
    expect(await resumed.files.read(`${HOME}/persist.txt`)).toBe("kept across pause");
    // The process survived the pause: memory was restored, not rebooted.
    expect((await resumed.commands.list()).map((p) => p.pid)).toContain(keeper.pid);
    expect((await resumed.commands.run("echo back")).stdout).toBe("back\n");
    sandbox = resumed;
  });
});

describe("kill", () => {
  it("kill destroys the sandbox; connecting to it afterwards is NotFoundError", async () => {
    expect(await sandbox.kill()).toBe(true);
    expect((await sandbox.getInfo()).state).toBe("stopped");
    await expect(
      Sandbox.connect(sandbox.sandboxId, { apiKey: d.apiKey, apiUrl: d.url }),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(sandbox.getMetrics()).rejects.toBeInstanceOf(NotFoundError);
    expect(
      await Sandbox.kill("sb-00000000-0000-4000-8000-000000000000", { apiKey: d.apiKey, apiUrl: d.url }),
    ).toBe(false);
  });
});
