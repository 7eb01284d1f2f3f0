import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestDeployment, type TestDeployment } from "@wrenn/testing/deployment";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliSession } from "./cli-session.ts";
import { cliCommandLine, shellQuote } from "./spawn-cli.ts";

// The `wrenn` CLI end to end: every command runs as a real subprocess (exactly what a user
// types) against a real deployment — control plane, PostgreSQL, Redis, a registered host
// agent and QEMU microVMs. Fails (never skips) when QEMU or the guest image is missing.

const cli = fileURLToPath(new URL("./main.ts", import.meta.url));
let d: TestDeployment;
let home: string;
let work: string;
let sandboxId: string;
const killLater: string[] = [];

const session = cliSession(() => home);
const { bash, onTerminal } = session;
const wrenn = session.run;
const wrennBytes = session.bytes;
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const quote = shellQuote;
const wrennLine = cliCommandLine;

/** `wrenn … --json`, asserting exit 0 and an empty stderr (no spinner on a pipe). */
async function wrennJson<T>(args: string[]): Promise<T> {
  const r = await wrenn([...args, "--json"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as T;
}

beforeAll(async () => {
  // netns networking: the port proxy (how the SDK reaches envd) needs it.
  d = await startTestDeployment({ agentArgs: ["--network", "netns"] });
  home = await mkdtemp(join(process.env.WRENN_TEST_TMP || tmpdir(), "wrenn-cli-home-"));
  work = await mkdtemp(join(process.env.WRENN_TEST_TMP || tmpdir(), "wrenn-cli-work-"));
});

afterAll(async () => {
  for (const id of killLater) await wrenn(["sandbox", "kill", id]).catch(() => undefined);
  await d?.close();
  if (home) await rm(home, { recursive: true, force: true });
  if (work) await rm(work, { recursive: true, force: true });
});

describe("wrenn CLI against a real deployment", () => {
  it("login rejects a bad key with exit 4 and saves a good one 0600", async () => {
    const bad = await wrenn(["login", "--api-key", "wrn_nope", "--url", d.url]);
    expect(bad.code).toBe(4);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/^wrenn login: .*rejected the API key/);

    const ok = await wrenn(["login", "--api-key", d.apiKey, "--url", d.url]);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`Logged in to ${d.url} as team`);
    const path = join(home, ".config", "wrenn", "config.json");
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(path, "utf8"))).toEqual({ apiUrl: d.url, apiKey: d.apiKey });

    // The key can also come from stdin, and WRENN_API_KEY overrides the saved one.
    const piped = await wrenn(["login", "--url", d.url, "--json"], { input: Buffer.from(`${d.apiKey}\n`) });
    expect(piped.code).toBe(0);
    expect(JSON.parse(piped.stdout).team.id).toBe(d.teamId);
    const overridden = await wrenn(["sandbox", "list"], { env: { WRENN_API_KEY: "wrn_revoked" } });
    expect(overridden.code).toBe(4);
  });

  it("sandbox create prints the sandbox (JSON on stdout, nothing on a non-TTY stderr)", async () => {
    const s = await wrennJson<{ id: string; state: string; metadata: Record<string, string>; vcpus: number }>(
      ["sandbox", "create", "--metadata", "suite=cli", "--env", "GREETING=hi", "--timeout", "0"],
    );
    expect(s.id).toMatch(/^sb-/);
    expect(s.state).toBe("running");
    expect(s.metadata).toEqual({ suite: "cli" });
    sandboxId = s.id;
    killLater.push(s.id);
  });

  it("sandbox list and get show it, as a table and as JSON; unknown ids are exit 3", async () => {
    const list = await wrennJson<{ id: string }[]>(["sandbox", "list", "--metadata", "suite=cli"]);
    expect(list.map((s) => s.id)).toEqual([sandboxId]);
    const none = await wrennJson<unknown[]>(["sandbox", "list", "--metadata", "suite=other"]);
    expect(none).toEqual([]);

    const table = await wrenn(["sandbox", "list", "--state", "running"]);
    expect(table.code).toBe(0);
    const [header, ...rows] = table.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^ID\s+STATE\s+TEMPLATE\s+VCPUS\s+MEMORY\s+CREATED\s+METADATA$/);
    expect(rows.find((r) => r.startsWith(sandboxId))).toMatch(/running\s+minimal.*suite=cli$/);

    const got = await wrennJson<{ id: string; state: string }>(["sandbox", "get", sandboxId]);
    expect(got).toMatchObject({ id: sandboxId, state: "running" });
    const human = await wrenn(["sandbox", "get", sandboxId]);
    expect(human.stdout).toMatch(/^ID:\s+sb-/);
    expect(human.stdout).toMatch(/State:\s+running/);

    const missing = await wrenn(["sandbox", "get", "sb-00000000-0000-4000-8000-000000000000"]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^wrenn sandbox get: .+\n$/);
    const usage = await wrenn(["sandbox", "get"]);
    expect(usage.code).toBe(2);
  });

  it("sandbox exec streams stdout and stderr apart and exits with the command's code", async () => {
    const r = await wrenn([
      "sandbox",
      "exec",
      sandboxId,
      "--",
      "sh",
      "-c",
      'echo "out $GREETING"; echo err >&2; exit 7',
    ]);
    expect(r.stdout).toBe("out hi\n");
    expect(r.stderr).toBe("err\n");
    expect(r.code).toBe(7);

    const script = await wrenn(["sandbox", "exec", sandboxId, "--cwd", "/tmp", "--", "pwd; echo $((6*7))"]);
    expect(script).toEqual({ code: 0, stdout: "/tmp\n42\n", stderr: "" });

    const quoted = await wrenn([
      "sandbox",
      "exec",
      sandboxId,
      "--",
      "printf",
      "[%s]",
      "a b",
      "it's",
      "$HOME",
    ]);
    expect(quoted.stdout).toBe("[a b][it's][$HOME]");

    const stdin = await wrenn(["sandbox", "exec", sandboxId, "-i", "--", "wc", "-c"], {
      input: Buffer.from("twelve bytes"),
    });
    expect(stdin.stdout.trim()).toBe("12");
    expect(stdin.code).toBe(0);

    const asRoot = await wrenn([
      "sandbox",
      "exec",
      sandboxId,
      "--user",
      "root",
      "--env",
      "X=1",
      "--",
      "echo $(id -u) $X",
    ]);
    expect(asRoot).toEqual({ code: 0, stdout: "0 1\n", stderr: "" });
    const rootHome = await wrenn(["sandbox", "exec", sandboxId, "--user", "root", "--", "pwd"]);
    expect(rootHome.stdout).toBe("/root\n");
  });

  it("sandbox exec is binary-safe both ways and forwards piped stdin without -i", async () => {
    // Output: random bytes written in the guest come out unchanged (checked against the guest's sha256).
    const made = await wrenn([
      "sandbox",
      "exec",
      sandboxId,
      "--",
      "head -c 1000000 /dev/urandom > /tmp/rand.bin && sha256sum /tmp/rand.bin",
    ]);
    expect(made.code).toBe(0);
    const remoteSha = made.stdout.split(" ")[0];
    const out = await wrennBytes(["sandbox", "exec", sandboxId, "--", "cat", "/tmp/rand.bin"]);
    expect(out.code).toBe(0);
    expect(out.stderr).toBe("");
    expect(out.stdout.length).toBe(1_000_000);
    expect(sha256(out.stdout)).toBe(remoteSha);

    // Input: piped bytes (several stdin messages' worth) reach the command unchanged…
    const data = randomBytes(2 * 1024 * 1024 + 3);
    const summed = await wrenn(["sandbox", "exec", sandboxId, "--", "sha256sum"], { input: data });
    expect(summed.code).toBe(0);
    expect(summed.stdout).toBe(`${sha256(data)}  -\n`);
    // …and come back through cat byte for byte.
    const echoed = await wrennBytes(["sandbox", "exec", sandboxId, "--", "cat"], data);
    expect(echoed.code).toBe(0);
    expect(sha256(echoed.stdout)).toBe(sha256(data));

    // echo hi | wrenn sandbox exec … -- cat, and --no-stdin keeps a pipe to itself.
    const hi = await wrenn(["sandbox", "exec", sandboxId, "--", "cat"], { input: Buffer.from("hi\n") });
    expect(hi).toEqual({ code: 0, stdout: "hi\n", stderr: "" });
    const none = await wrenn(["sandbox", "exec", sandboxId, "-n", "--", "wc", "-c"], {
      input: Buffer.from("ignored"),
    });
    expect(none.stdout.trim()).toBe("0");
  });

  it("sandbox exec --json returns {exit_code, stdout, stderr} with the command's exit code; --timeout is exit 7", async () => {
    const r = await wrenn(["sandbox", "exec", sandboxId, "--json", "--", "echo out; echo err >&2; exit 3"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({ exit_code: 3, stdout: "out\n", stderr: "err\n" });

    const slow = await wrenn(["sandbox", "exec", sandboxId, "--timeout", "1", "--", "sleep 30"]);
    expect(slow.code).toBe(7);
    expect(slow.stderr).toMatch(/^wrenn sandbox exec: the command timed out after 1s/);
  });

  it("files put, ls and get move bytes unchanged", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const local = join(work, "blob.bin");
    await writeFile(local, data);
    const put = await wrennJson<{ path: string; bytes: number }>([
      "files",
      "put",
      sandboxId,
      local,
      "/tmp/up/",
    ]);
    expect(put).toEqual({ path: "/tmp/up/blob.bin", bytes: data.length });

    const ls = await wrennJson<{ name: string; type: string; size: number }[]>([
      "files",
      "ls",
      sandboxId,
      "/tmp/up",
    ]);
    expect(ls).toEqual([expect.objectContaining({ name: "blob.bin", type: "file", size: data.length })]);
    const lsHuman = await wrenn(["files", "ls", sandboxId, "/tmp/up"]);
    expect(lsHuman.stdout).toMatch(/^PERMISSIONS\s+OWNER\s+SIZE\s+MODIFIED\s+NAME\n/);
    expect(lsHuman.stdout).toMatch(new RegExp(`${data.length}\\s+\\S+\\s+blob\\.bin\\n$`));

    const back = join(work, "back.bin");
    const get = await wrenn(["files", "get", sandboxId, "/tmp/up/blob.bin", back]);
    expect(get.code).toBe(0);
    expect(get.stderr).toBe(`Downloaded 3.0 MiB to ${back}.\n`);
    expect(sha256(await readFile(back))).toBe(sha256(data));
    const again = join(work, "again.bin");
    const getJson = await wrennJson<{ path: string; bytes: number }>([
      "files",
      "get",
      sandboxId,
      "/tmp/up/blob.bin",
      again,
    ]);
    expect(getJson).toEqual({ path: again, bytes: data.length });
    expect(sha256(await readFile(again))).toBe(sha256(data));

    const piped = await wrenn(["files", "put", sandboxId, "-", "/tmp/up/note.txt"], {
      input: Buffer.from("note\n"),
    });
    expect(piped.code).toBe(0);
    const cat = await wrenn(["files", "get", sandboxId, "/tmp/up/note.txt"]);
    expect(cat).toEqual({ code: 0, stdout: "note\n", stderr: "" });

    const missing = await wrenn(["files", "get", sandboxId, "/tmp/up/nope"]);
    expect(missing.code).toBe(3);
    const noLocal = await wrenn(["files", "put", sandboxId, join(work, "absent"), "/tmp/x"]);
    expect(noLocal.code).toBe(1);
    expect(noLocal.stderr).toMatch(/no such file/);
  });

  it("on a terminal long work shows a spinner that ends with ✓; --json on a terminal draws none", async () => {
    const local = join(work, "tty.bin");
    await writeFile(local, randomBytes(1024 * 1024));
    const put = await onTerminal(["files", "put", sandboxId, local, "/tmp/tty.bin"]);
    expect(put.code, put.output).toBe(0);
    expect(put.output).toContain("\r\x1b[2K✓ Uploaded 1.0 MiB to /tmp/tty.bin (");
    expect(put.output).toMatch(/Uploaded 1\.0 MiB to \/tmp\/tty\.bin\.\n$/);
    const get = await onTerminal(["files", "get", sandboxId, "/tmp/tty.bin", join(work, "tty-back.bin")]);
    expect(get.code, get.output).toBe(0);
    expect(get.output).toContain("✓ Downloaded 1.0 MiB to ");

    const asJson = await onTerminal(["files", "put", sandboxId, local, "/tmp/tty.bin", "--json"]);
    expect(asJson.code, asJson.output).toBe(0);
    expect(asJson.output).not.toContain("\x1b");
    expect(JSON.parse(asJson.output)).toEqual({ path: "/tmp/tty.bin", bytes: 1024 * 1024 });
  });

  it("sandbox exec into a reader that goes away (| head) exits 141 and kills the command", async () => {
    const exec = wrennLine(["sandbox", "exec", sandboxId, "--", "yes"]);
    const r = await bash(`${exec} | head -c 5; echo " \${PIPESTATUS[0]}"`);
    expect(r.stdout).toBe("y\ny\ny 141\n");
    // Closing the stream kills the remote command (a moment later, on the agent).
    let left = "";
    for (let i = 0; i < 20; i++) {
      left = (await wrenn(["sandbox", "exec", sandboxId, "--", "pgrep -x yes; echo checked"])).stdout;
      if (left === "checked\n") break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(left).toBe("checked\n");
  });

  it("sandbox logs prints the guest's kernel log", async () => {
    const r = await wrenn(["sandbox", "logs", sandboxId]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Linux version \d/);
    const tail = await wrenn(["sandbox", "logs", sandboxId, "--tail", "3"]);
    expect(tail.stdout.trimEnd().split("\n")).toHaveLength(3);
  });

  it("Ctrl-C ends logs --follow (exit 0) and exec (exit 130), killing the remote process", async () => {
    const interrupt = async (args: string[], ready: RegExp) => {
      const env = { ...process.env, HOME: home } as NodeJS.ProcessEnv;
      delete env.WRENN_API_KEY;
      delete env.WRENN_API_URL;
      const child = spawn(process.execPath, ["--import", "tsx", cli, ...args], {
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (b: Buffer) => {
        out += b.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
      const until = Date.now() + 60_000;
      while (!ready.test(out)) {
        if (Date.now() > until) throw new Error(`no ${ready} in ${JSON.stringify(out)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      child.kill("SIGINT");
      return { code: await exited, out };
    };
    const follow = await interrupt(["sandbox", "logs", sandboxId, "-f", "-n", "2"], /\n.*\n/);
    expect(follow.code).toBe(0);
    const exec = await interrupt(
      ["sandbox", "exec", sandboxId, "--", "echo started; exec sleep 300"],
      /started\n/,
    );
    expect(exec.code).toBe(130);
    const left = await wrenn([
      "sandbox",
      "exec",
      sandboxId,
      "--",
      "pgrep -x sleep; pgrep -x dmesg; echo checked",
    ]);
    expect(left.stdout).toBe("checked\n");
  });

  it("pause and resume keep the sandbox's state; logs refuses a paused sandbox", async () => {
    await wrenn(["sandbox", "exec", sandboxId, "--", "echo kept > /tmp/state.txt"]);
    const paused = await wrennJson<{ state: string }>(["sandbox", "pause", sandboxId]);
    expect(paused.state).toBe("paused");
    expect((await wrennJson<{ state: string }>(["sandbox", "get", sandboxId])).state).toBe("paused");
    const logs = await wrenn(["sandbox", "logs", sandboxId]);
    expect(logs.code).toBe(5);
    expect(logs.stderr).toMatch(/is paused/);

    const resumed = await wrennJson<{ state: string }>(["sandbox", "resume", sandboxId]);
    expect(resumed.state).toBe("running");
    const r = await wrenn(["sandbox", "exec", sandboxId, "--", "cat /tmp/state.txt"]);
    expect(r).toEqual({ code: 0, stdout: "kept\n", stderr: "" });
  });

  it("snapshot create, list, start from it, delete", async () => {
    const name = `cli-snap-${randomBytes(3).toString("hex")}`;
    await wrenn(["sandbox", "exec", sandboxId, "--", "echo from-snapshot > /home/user/mark.txt"]);
    const snap = await wrennJson<{ name: string; id: string }>([
      "snapshot",
      "create",
      sandboxId,
      "--name",
      name,
    ]);
    expect(snap.name).toBe(name);

    const list = await wrennJson<{ name: string }[]>(["snapshot", "list"]);
    expect(list.map((t) => t.name)).toContain(name);
    const table = await wrenn(["snapshot", "list"]);
    expect(table.stdout).toMatch(new RegExp(`^${name}\\s+tpl-`, "m"));

    const child = await wrennJson<{ id: string; template: string }>([
      "sandbox",
      "create",
      "--template",
      name,
    ]);
    killLater.push(child.id);
    const mark = await wrenn(["sandbox", "exec", child.id, "--", "cat /home/user/mark.txt"]);
    expect(mark.stdout).toBe("from-snapshot\n");
    expect((await wrenn(["sandbox", "kill", child.id])).code).toBe(0);

    const del = await wrennJson<{ deleted: string[] }>(["snapshot", "delete", name]);
    expect(del).toEqual({ deleted: [name] });
    expect((await wrennJson<{ name: string }[]>(["snapshot", "list"])).map((t) => t.name)).not.toContain(
      name,
    );
    expect((await wrenn(["snapshot", "delete", name])).code).toBe(3);
  });

  it("sandbox shell is an interactive terminal under tmux: typed commands run, resize reaches it, exit ends it with 0", async () => {
    const socket = `wrenn-cli-test-${process.pid}`;
    const tmux = (...args: string[]) => spawnSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });
    const exitFile = join(work, "shell-exit");
    const script = join(work, "shell.sh");
    // The script checks afterwards that the CLI gave the terminal back exactly as it found it.
    await writeFile(
      script,
      [
        "#!/bin/bash",
        `export HOME=${quote(home)}`,
        "unset WRENN_API_KEY WRENN_API_URL",
        "before=$(stty -g)",
        `${quote(process.execPath)} --import tsx ${quote(cli)} sandbox shell ${sandboxId}`,
        "code=$?",
        `[ "$(stty -g)" = "$before" ] && tty=restored || tty=changed`,
        `echo "exit=$code tty=$tty" > ${quote(exitFile)}`,
        "sleep 30",
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    const started = tmux("new-session", "-d", "-s", "shell", "-x", "100", "-y", "30", script);
    expect(started.status, started.stderr).toBe(0);
    const pane = () => tmux("capture-pane", "-p", "-t", "shell").stdout;
    const waitFor = async (what: RegExp | (() => Promise<boolean>), ms = 60_000) => {
      const until = Date.now() + ms;
      for (;;) {
        if (typeof what === "function" ? await what() : what.test(pane())) return;
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}; pane:\n${pane()}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    try {
      await waitFor(/^user@\S+:~\$$/m); // the remote bash prompt (capture-pane trims trailing spaces)
      tmux("send-keys", "-t", "shell", "echo hello-$((6*7))", "Enter");
      await waitFor(/^hello-42$/m);
      tmux("send-keys", "-t", "shell", "stty size", "Enter");
      await waitFor(/^30 100$/m);
      tmux("resize-window", "-t", "shell", "-x", "120", "-y", "40");
      tmux("send-keys", "-t", "shell", "stty size", "Enter");
      await waitFor(/^40 120$/m);
      // Ctrl-C is a byte for the remote shell: it interrupts the command, not the CLI.
      tmux("send-keys", "-t", "shell", "sleep 100", "Enter");
      tmux("send-keys", "-t", "shell", "C-c");
      tmux("send-keys", "-t", "shell", "echo after-$((1+1))", "Enter");
      await waitFor(/^after-2$/m);
      tmux("send-keys", "-t", "shell", "exit", "Enter");
      await waitFor(async () => (await readFile(exitFile, "utf8").catch(() => "")).includes("exit="));
      expect((await readFile(exitFile, "utf8")).trim()).toBe("exit=0 tty=restored");
    } finally {
      tmux("kill-server");
    }
  });

  it("sandbox kill destroys it; killing it again succeeds, an unknown id is exit 3", async () => {
    const r = await wrenn(["sandbox", "kill", sandboxId]);
    expect(r).toEqual({ code: 0, stdout: `Killed ${sandboxId}.\n`, stderr: "" });
    expect((await wrennJson<{ state: string }>(["sandbox", "get", sandboxId])).state).toBe("stopped");
    const again = await wrennJson<unknown>(["sandbox", "kill", sandboxId]);
    expect(again).toEqual([{ id: sandboxId, result: "already_stopped" }]);
    const unknown = await wrenn(["sandbox", "kill", "sb-00000000-0000-4000-8000-000000000000"]);
    expect(unknown.code).toBe(3);
    const exec = await wrenn(["sandbox", "exec", sandboxId, "--", "true"]);
    expect(exec.code).not.toBe(0);
    expect(exec.stderr.trim().split("\n")).toHaveLength(1);
  });
});
