import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type ProcessTestDeployment, startTestDeploymentWithAgentProcess } from "@wrenn/testing/deployment";
import { pollUntil } from "@wrenn/testing/poll";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// A real deployment whose host agent is its own process: killed with SIGKILL, the host goes
// `unreachable` and its sandbox `missing`; restarted (no --register, saved credentials) the
// agent takes the still-running VM over and reconciliation brings the sandbox back `running`.
// Short monitor timings keep the test quick; config.test.ts checks the defaults stay ≤ 2 min.
let d: ProcessTestDeployment;

beforeAll(async () => {
  d = await startTestDeploymentWithAgentProcess({
    env: { HOST_MONITOR_INTERVAL_SEC: "1", HOST_STALE_AFTER_SEC: "4" },
    agentEnv: { WRENN_HEARTBEAT_INTERVAL_MS: "1000" },
  });
});

afterAll(async () => {
  await d?.close();
});

const json = (apiKey: string) => ({ "x-api-key": apiKey, "content-type": "application/json" });

function alive(pid: number): Promise<boolean> {
  return readFile(`/proc/${pid}/stat`, "utf8").then(
    (stat) => !/\) Z /.test(stat),
    () => false,
  );
}

describe("host agent crash", () => {
  it("SIGKILL → host unreachable, sandbox missing; restart → online, running, file and process intact", async () => {
    const headers = json(d.apiKey);
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${d.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, text, body: text.startsWith("{") ? JSON.parse(text) : undefined };
    };
    const hostStatus = async () => {
      const res = await fetch(`${d.url}/v1/hosts/${d.hostId}`, {
        headers: { authorization: `Bearer ${d.adminToken}` },
      });
      return ((await res.json()) as { status: string }).status;
    };
    const exec = async (id: string, cmd: string) =>
      (await api("POST", `/v1/sandboxes/${id}/exec`, { cmd })).body;

    const created = await api("POST", "/v1/sandboxes", { timeout_sec: 0 });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id as string;
    const form = new FormData();
    form.set("path", "/tmp/note.txt");
    form.set("file", new Blob(["written before the crash\n"]), "note.txt");
    const written = await fetch(`${d.url}/v1/sandboxes/${id}/files/write`, {
      method: "POST",
      headers: { "x-api-key": d.apiKey },
      body: form,
    });
    expect(written.status, await written.text()).toBe(200);
    const bg = await exec(id, "setsid sleep 100000 </dev/null >/dev/null 2>&1 & echo $!");
    const bgPid = String(bg.stdout).trim();
    expect(bgPid).toMatch(/^\d+$/);
    const record = JSON.parse(
      await readFile(join(d.agentProcess.dataDir, "sandboxes", id, "sandbox.json"), "utf8"),
    );
    const vmPid = record.runtime.pid as number;
    expect(await alive(vmPid)).toBe(true);

    await d.agentProcess.kill("SIGKILL");
    const killedAt = Date.now();
    // The VM outlives its agent.
    expect(await alive(vmPid)).toBe(true);
    await pollUntil("host status", hostStatus, (s) => s === "unreachable");
    const missing = await pollUntil(
      "sandbox state",
      async () => (await api("GET", `/v1/sandboxes/${id}`)).body.state,
      (s) => s === "missing",
    );
    expect(missing).toBe("missing");
    console.log(
      `agent killed → host unreachable + sandbox missing in ${Date.now() - killedAt} ms (stale after 4 s)`,
    );
    expect(await alive(vmPid)).toBe(true);

    await d.agentProcess.restart();
    expect(d.agentProcess.output()).toContain(`"adopted":["${id}"]`);
    const restartedAt = Date.now();
    await pollUntil("host status", hostStatus, (s) => s === "online");
    await pollUntil(
      "sandbox state",
      async () => (await api("GET", `/v1/sandboxes/${id}`)).body.state,
      (s) => s === "running",
    );
    console.log(`agent restarted → host online + sandbox running in ${Date.now() - restartedAt} ms`);

    const read = await api("POST", `/v1/sandboxes/${id}/files/read`, { path: "/tmp/note.txt" });
    expect(read.status).toBe(200);
    expect(read.text).toBe("written before the crash\n");
    expect(await exec(id, `kill -0 ${bgPid} && echo alive`)).toMatchObject({
      exit_code: 0,
      stdout: "alive\n",
    });
    expect(await exec(id, "echo still here")).toMatchObject({ exit_code: 0, stdout: "still here\n" });
    // Same VM process: taken over, not restarted.
    expect(
      JSON.parse(await readFile(join(d.agentProcess.dataDir, "sandboxes", id, "sandbox.json"), "utf8"))
        .runtime.pid,
    ).toBe(vmPid);

    expect((await api("DELETE", `/v1/sandboxes/${id}`)).status).toBe(204);
    expect(await alive(vmPid)).toBe(false);
  });
});
