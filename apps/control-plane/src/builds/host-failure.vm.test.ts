import { apiCall } from "@wrenn/testing/api";
import { type ProcessTestDeployment, startTestDeploymentWithAgentProcess } from "@wrenn/testing/deployment";
import { pollUntil } from "@wrenn/testing/poll";
import { qemuProcessesUnder } from "@wrenn/testing/vms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// A host agent that dies in the middle of a build step (SIGKILL of its own process, real QEMU
// microVMs, REST with the team's API key): the build fails at once with a reason naming the host,
// and when the agent comes back, the build sandbox it still holds (VMs outlive a dead agent) is
// destroyed, not revived as a team sandbox.
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

const api = (method: string, path: string, body?: unknown) => apiCall(d, method, path, body);

interface BuildView {
  status: string;
  error: string | null;
  failed_step: number | null;
  steps: { status: string }[];
}

describe("a host failing mid-build", () => {
  it("fails the build naming the host, and its sandbox is destroyed when the agent returns", async () => {
    const submitted = await api("POST", "/v1/builds", {
      name: "host-dies",
      recipe: "RUN echo started\nRUN sleep 600",
      skip_pre_post: true,
    });
    expect(submitted.status, submitted.text).toBe(202);
    const id = submitted.body.id as string;
    const build = () => api("GET", `/v1/builds/${id}`).then((r) => r.body as BuildView);
    // "queued" comes before "building": stop early only on a finished build, never on one not started.
    const finished = (b: BuildView) => b.status !== "queued" && b.status !== "building";
    const running = await pollUntil(
      "step 2 running",
      build,
      (b) => b.steps[1]?.status === "running" || finished(b),
      300_000,
    );
    expect(running.status, JSON.stringify(running)).toBe("building");
    const sandboxes = await api("GET", "/v1/sandboxes?state=running");
    const buildSandbox = (
      sandboxes.body.sandboxes as { id: string; metadata: Record<string, string> }[]
    ).find((s) => s.metadata["wrenn.build"] === id);
    expect(buildSandbox, sandboxes.text).toBeDefined();

    await d.agentProcess.kill("SIGKILL");
    const failed = await pollUntil("build failed", build, finished, 60_000);
    expect(failed.status).toBe("error");
    expect(failed.failed_step).toBe(2);
    expect(failed.error).toMatch(new RegExp(`host ${d.hostId} failed during the build`));
    const logs = await api("GET", `/v1/builds/${id}/logs?limit=1000`);
    expect(JSON.stringify(logs.body)).toMatch(/build failed: host/);

    await d.agentProcess.restart();
    const hostOnline = async () => {
      const res = await fetch(`${d.url}/v1/hosts/${d.hostId}`, {
        headers: { authorization: `Bearer ${d.adminToken}` },
      });
      return ((await res.json()) as { status: string }).status;
    };
    await pollUntil("host online", hostOnline, (s) => s === "online", 60_000);
    const sandboxId = buildSandbox?.id ?? "";
    const state = await pollUntil(
      "build sandbox destroyed",
      () => api("GET", `/v1/sandboxes/${sandboxId}`).then((r) => r.body?.state as string),
      (s) => s === "stopped",
      60_000,
    );
    expect(state).toBe("stopped");
    // Only the build sandbox ran on this host: once it is destroyed no QEMU is left.
    const qemus = await pollUntil(
      "no QEMU under the agent",
      async () => qemuProcessesUnder(d.agentProcess.dataDir).map((p) => p.pid),
      (pids) => pids.length === 0,
      60_000,
    );
    expect(qemus).toEqual([]);
  });
});
