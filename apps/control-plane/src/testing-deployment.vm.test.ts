import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestDeployment, type TestDeployment } from "./testing-deployment.ts";

// The end-to-end fixture itself: a real listening control plane, a registered
// in-process host agent (QEMU microVMs), and a team API key, used over real HTTP.
let d: TestDeployment;

beforeAll(async () => {
  d = await startTestDeployment();
});

afterAll(async () => {
  await d?.close();
});

describe("test deployment", () => {
  it("serves the sandbox API over HTTP with the team's API key on the registered host", async () => {
    const headers = { "x-api-key": d.apiKey, "content-type": "application/json" };
    const hosts = await fetch(`${d.url}/v1/hosts/${d.hostId}`, {
      headers: { authorization: `Bearer ${d.adminToken}` },
    });
    expect(await hosts.json()).toMatchObject({ id: d.hostId, status: "online" });

    const created = await fetch(`${d.url}/v1/sandboxes`, {
      method: "POST",
      headers,
      body: JSON.stringify({ timeout_sec: 0 }),
    });
    const sandbox = (await created.json()) as { id: string };
    expect(created.status, JSON.stringify(sandbox)).toBe(201);
    expect(sandbox).toMatchObject({ state: "running", host_id: d.hostId });

    const exec = await fetch(`${d.url}/v1/sandboxes/${sandbox.id}/exec`, {
      method: "POST",
      headers,
      body: JSON.stringify({ cmd: "echo ready" }),
    });
    expect(await exec.json()).toMatchObject({ exit_code: 0, stdout: "ready\n" });

    // Another team cannot see it.
    const other = await d.newTeam("Other");
    const foreign = await fetch(`${d.url}/v1/sandboxes/${sandbox.id}`, {
      headers: { "x-api-key": other.apiKey },
    });
    expect(foreign.status).toBe(404);

    const deleted = await fetch(`${d.url}/v1/sandboxes/${sandbox.id}`, { method: "DELETE", headers });
    expect(deleted.status).toBe(204);
  });
});
