import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { HostAgentService } from "@wrenn/proto";
import { type RpcTestAgent, startRpcTestAgent } from "@wrenn/testing/rpc-agent";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningAgent } from "../main.ts";

// A real agent (real QEMU microVMs, user-mode networking) driven through its Connect service over h2c.
let a: RpcTestAgent;
let agent: RunningAgent;
let client: Client<typeof HostAgentService>;
const ids: string[] = [];

function newId(): string {
  const id = `rpc-${Math.random().toString(36).slice(2, 10)}`;
  ids.push(id);
  return id;
}

async function codeOf(promise: Promise<unknown>): Promise<Code | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

beforeAll(async () => {
  a = await startRpcTestAgent({
    name: "rpc",
    network: "user",
    // Short enough to watch a detached terminal being killed.
    env: { WRENN_PTY_IDLE_TIMEOUT_MS: "2000" },
  });
  ({ agent, client } = a);
});

afterAll(async () => {
  for (const id of ids) await agent?.manager.destroy(id).catch(() => {});
  await a?.close();
});

describe("HostAgentService over Connect", () => {
  it("creates, execs, moves files, pauses, resumes and destroys", async () => {
    const id = newId();
    const created = await client.createSandbox({
      sandboxId: id,
      teamId: "team-r",
      templateId: "minimal",
      envs: { FOO: "bar" },
      envdAccessToken: "secret-token",
    });
    expect(created.sandbox?.sandboxId).toBe(id);
    expect(created.sandbox?.diskSizeMb).toBe(5120);

    const echo = await client.exec({ sandboxId: id, command: { cmd: "/bin/sh", args: ["-c", "echo $FOO"] } });
    expect(echo.exitCode).toBe(0);
    expect(Buffer.from(echo.stdout).toString()).toBe("bar\n");
    const failing = await client.exec({ sandboxId: id, command: { cmd: "/bin/sh", args: ["-c", "exit 3"] } });
    expect(failing.exitCode).toBe(3);
    const slow = await client.exec({
      sandboxId: id,
      command: { cmd: "/bin/sleep", args: ["30"] },
      timeoutSec: 1,
    });
    expect(slow.timedOut).toBe(true);

    const events: string[] = [];
    for await (const res of client.execStream({
      sandboxId: id,
      command: { cmd: "/bin/sh", args: ["-c", "echo out; echo err >&2"] },
    })) {
      events.push(res.event?.event.case ?? "none");
    }
    expect(events[0]).toBe("started");
    expect(events).toContain("stdout");
    expect(events).toContain("stderr");
    expect(events.at(-1)).toBe("ended");

    // stdin: `cat` echoes what is sent and exits 0 once stdin is closed.
    let catOut = "";
    let catExit: number | undefined;
    for await (const res of client.execStream({ sandboxId: id, command: { cmd: "/bin/cat" }, stdin: true })) {
      const e = res.event?.event;
      if (e?.case === "started") {
        const process = { selector: { case: "pid" as const, value: e.value.pid } };
        await client.sendProcessInput({ sandboxId: id, process, data: Buffer.from("line one\n") });
        await client.sendProcessInput({ sandboxId: id, process, data: Buffer.from("line two\n") });
        await client.closeProcessStdin({ sandboxId: id, process });
      } else if (e?.case === "stdout") catOut += Buffer.from(e.value).toString();
      else if (e?.case === "ended") catExit = e.value.exitCode;
    }
    expect(catOut).toBe("line one\nline two\n");
    expect(catExit).toBe(0);

    const written = await client.writeFile({
      sandboxId: id,
      path: "/tmp/hello.txt",
      content: Buffer.from("hello file"),
    });
    expect(written.entry?.sizeBytes).toBe(10n);
    const read = await client.readFile({ sandboxId: id, path: "/tmp/hello.txt" });
    expect(Buffer.from(read.content).toString()).toBe("hello file");
    const listing = await client.listDir({ sandboxId: id, path: "/tmp" });
    expect(listing.entries.map((e) => e.name)).toContain("hello.txt");
    expect(await codeOf(client.readFile({ sandboxId: id, path: "/tmp/missing" }))).toBe(Code.NotFound);

    const bg = await client.exec({
      sandboxId: id,
      command: { cmd: "/bin/sleep", args: ["300"] },
      background: true,
      tag: "sleeper",
    });
    expect(bg.pid).toBeGreaterThan(0);
    const procs = await client.listProcesses({ sandboxId: id });
    expect(procs.processes.find((p) => p.tag === "sleeper")?.pid).toBe(bg.pid);
    await client.killProcess({ sandboxId: id, process: { selector: { case: "tag", value: "sleeper" } } });

    const output: string[] = [];
    const kinds: string[] = [];
    for await (const res of client.ptyAttach({
      sandboxId: id,
      tag: "term",
      cols: 100,
      rows: 30,
      command: { cmd: "/bin/sh", args: ["-c", "stty size; echo pty-ok"] },
    })) {
      kinds.push(res.event.case ?? "none");
      if (res.event.case === "output") output.push(Buffer.from(res.event.value).toString());
    }
    expect(kinds[0]).toBe("attached");
    expect(kinds.at(-1)).toBe("exited");
    expect(output.join("")).toContain("30 100");
    expect(output.join("")).toContain("pty-ok");

    // A terminal left without a client keeps running (to reconnect by tag) until it idles out.
    const detachment = new AbortController();
    try {
      for await (const res of client.ptyAttach(
        { sandboxId: id, tag: "idle", cols: 80, rows: 24, command: { cmd: "/bin/sleep", args: ["600"] } },
        { signal: detachment.signal },
      )) {
        if (res.event.case === "attached") detachment.abort();
      }
    } catch (err) {
      expect(ConnectError.from(err).code).toBe(Code.Canceled);
    }
    const tags = async () => (await client.listProcesses({ sandboxId: id })).processes.map((p) => p.tag);
    expect(await tags()).toContain("idle");
    const deadline = Date.now() + 30_000;
    while ((await tags()).includes("idle") && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 500));
    expect(await tags()).not.toContain("idle");

    const paused = await client.pauseSandbox({ sandboxId: id });
    expect(paused.snapshotSizeBytes).toBeGreaterThan(0n);
    // Guest operations on a paused sandbox are refused, not hung.
    expect(await codeOf(client.exec({ sandboxId: id, command: { cmd: "true" } }))).toBe(
      Code.FailedPrecondition,
    );
    expect(
      await codeOf(
        client.sendProcessInput({
          sandboxId: id,
          process: { selector: { case: "pid", value: 1 } },
          data: new Uint8Array(1),
        }),
      ),
    ).toBe(Code.FailedPrecondition);
    expect((await client.listSandboxes({})).sandboxes.map((s) => s.sandboxId)).not.toContain(id);

    const resumed = await client.resumeSandbox({ sandboxId: id, timeoutSec: 120 });
    expect(resumed.sandbox?.timeoutSec).toBe(120);
    const again = await client.readFile({ sandboxId: id, path: "/tmp/hello.txt" });
    expect(Buffer.from(again.content).toString()).toBe("hello file");

    const all = await client.pauseAll({});
    expect(all.pausedSandboxIds).toEqual([id]);
    expect((await client.listSandboxes({})).autoPausedSandboxIds).toEqual([id]);

    await client.destroySandbox({ sandboxId: id });
    expect(await codeOf(client.destroySandbox({ sandboxId: id }))).toBe(Code.NotFound);
    const list = await client.listSandboxes({});
    expect(list.sandboxes).toEqual([]);
    expect(list.autoPausedSandboxIds).toEqual([]);
  });

  it("maps bad input to clear Connect codes", async () => {
    expect(await codeOf(client.exec({ sandboxId: "nope", command: { cmd: "true" } }))).toBe(Code.NotFound);
    expect(await codeOf(client.pingSandbox({ sandboxId: "nope" }))).toBe(Code.NotFound);
    const pid1 = { selector: { case: "pid" as const, value: 1 } };
    expect(await codeOf(client.sendProcessInput({ sandboxId: "nope", process: pid1 }))).toBe(Code.NotFound);
    expect(await codeOf(client.closeProcessStdin({ sandboxId: "nope", process: pid1 }))).toBe(Code.NotFound);
    expect(await codeOf(client.pauseSandbox({ sandboxId: "../x" }))).toBe(Code.InvalidArgument);
    expect(
      await codeOf(client.createSandbox({ sandboxId: "../x", teamId: "team-r", templateId: "minimal" })),
    ).toBe(Code.InvalidArgument);
    expect(
      await codeOf(
        client.createSandbox({ sandboxId: "ok", teamId: "team-r", templateId: "minimal", diskSizeMb: 1e9 }),
      ),
    ).toBe(Code.InvalidArgument);
    expect(await codeOf(client.deleteSnapshot({ teamId: "team-r", templateId: "../../etc" }))).toBe(
      Code.InvalidArgument,
    );
    expect(await codeOf(client.flattenRootfs({ sandboxId: "nope", teamId: "t", templateId: "x" }))).toBe(
      Code.NotFound,
    );
    expect((await client.listSandboxes({})).sandboxes).toEqual([]);
  });
});
