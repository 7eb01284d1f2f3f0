import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { type ProcessTestDeployment, startTestDeploymentWithAgentProcess } from "@wrenn/testing/deployment";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentTls } from "../tls/agent-tls.ts";

// mTLS with the host agent as its own process (`host-agent --register …`, as `wrenn up` and
// `wrenn host register` run it): the certificate from registration is installed in the running
// listener, and a restarted agent serves TLS from its saved credentials before it reconnects.
let d: ProcessTestDeployment;
let clientTls: AgentTls;

beforeAll(async () => {
  d = await startTestDeploymentWithAgentProcess({
    tls: true,
    agentEnv: { WRENN_HEARTBEAT_INTERVAL_MS: "1000" },
  });
  if (!d.ca) throw new Error("deployment has no CA");
  clientTls = await AgentTls.create(d.ca);
});

afterAll(async () => {
  await d?.close();
});

/** A request straight to the agent, plain or over TLS: its status, or the error code that ended it. */
function toAgent(tls: boolean): Promise<string> {
  const options = { host: "127.0.0.1", port: d.agentProcess.port, path: "/proxy/sb-none/1/", agent: false };
  return new Promise((resolve) => {
    const req = tls
      ? httpsRequest({ ...options, ...clientTls.connectOptions() }, (res) =>
          resolve(`status ${res.statusCode}`),
        )
      : httpRequest(options, (res) => resolve(`status ${res.statusCode}`));
    req.on("error", (err) => resolve(`error ${(err as NodeJS.ErrnoException).code}`));
    req.end();
  });
}

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${d.url}${path}`, {
    method,
    headers: { "x-api-key": d.apiKey, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, unknown> };
}

describe("mTLS with the agent as its own process", () => {
  it("serves TLS after registering and from its saved certificate right after a restart", async () => {
    expect(await toAgent(true)).toBe("status 404"); // accepted: no such sandbox
    expect(await toAgent(false)).toBe("error ECONNRESET");
    const created = await api("POST", "/v1/sandboxes", { timeout_sec: 0 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    const run = (cmd: string) => api("POST", `/v1/sandboxes/${id}/exec`, { cmd });
    expect((await run("echo before")).body).toMatchObject({ exit_code: 0, stdout: "before\n" });

    // SIGKILL leaves the VM running; the restarted agent takes it over.
    await d.agentProcess.kill("SIGKILL");
    await d.agentProcess.restart();
    const started = d.agentProcess
      .output()
      .split("\n")
      .filter((l) => l.includes('"host agent started"'))
      .at(-1);
    expect(started).toContain('"tls":true');
    expect(await toAgent(false)).toBe("error ECONNRESET");
    expect(await toAgent(true)).toBe("status 404");
    expect((await run("echo after")).body).toMatchObject({ exit_code: 0, stdout: "after\n" });
    expect((await api("DELETE", `/v1/sandboxes/${id}`)).status).toBe(204);
  });
});
