import { call, signupUser, type TestApp } from "@wrenn/testing/app";
import { startTestAppWithHost, type TestAppWithHost } from "@wrenn/testing/app-with-host";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Template builds end to end: real PostgreSQL, Redis (BullMQ workers), a REAL host agent with
// QEMU microVMs, driven through the REST API only. Fails (never skips) without QEMU or the image.
let h: TestAppWithHost;
let t: TestApp;
let token: string;

beforeAll(async () => {
  h = await startTestAppWithHost({ name: "cp-builds-vm" });
  t = h.t;
  token = (await signupUser(t.app, "Builder")).token;
  await t.app.builds.start();
});

afterAll(async () => {
  await t?.app.builds.close();
  await h?.close();
});

const b64 = (s: string) => Buffer.from(s).toString("base64");

interface BuildView {
  id: string;
  status: string;
  error: string | null;
  failed_step: number | null;
  current_step: number;
  total_steps: number;
  steps: { index: number; status: string }[];
  template_id: string | null;
}

async function submit(body: Record<string, unknown>): Promise<BuildView> {
  const res = await call(t.app, "POST", "/v1/builds", { token, body: { skip_pre_post: true, ...body } });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body;
}

/** Polls the build until `done` holds (deadline: minutes, the guest is emulated). */
async function waitBuild(id: string, done: (b: BuildView) => boolean, ms = 300_000): Promise<BuildView> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await call(t.app, "GET", `/v1/builds/${id}`, { token });
    if (done(res.body)) return res.body;
    if (Date.now() > deadline) throw new Error(`build ${id} stuck: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const ended = (b: BuildView) => ["ready", "error", "cancelled"].includes(b.status);

async function logText(id: string): Promise<string> {
  const res = await call(t.app, "GET", `/v1/builds/${id}/logs?limit=5000`, { token });
  return (res.body.logs as { message: string }[]).map((l) => l.message).join("\n");
}

async function createSandbox(template: string): Promise<string> {
  const res = await call(t.app, "POST", "/v1/sandboxes", { token, body: { template, timeout_sec: 0 } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

async function sh(id: string, cmd: string) {
  const res = await call(t.app, "POST", `/v1/sandboxes/${id}/exec`, { token, body: { cmd } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { exit_code: number; stdout: string; stderr: string };
}

async function destroy(id: string) {
  expect((await call(t.app, "DELETE", `/v1/sandboxes/${id}`, { token })).status).toBe(204);
}

/** Sandboxes of the team that builds started (none may stay alive after a build). */
async function liveBuildSandboxes(): Promise<unknown[]> {
  const res = await call(t.app, "GET", "/v1/sandboxes?state=running,paused,starting,pending", { token });
  return (res.body.sandboxes as { metadata: Record<string, string> }[]).filter(
    (s) => s.metadata["wrenn.build"],
  );
}

const recipe = [
  "USER builder",
  "WORKDIR app",
  "COPY site/ ./",
  'ENV GREETING="hi there" MODE=built',
  'RUN echo "$GREETING/$MODE" > greeting.txt && id -un > whoami.txt && ./run.sh > ran.txt',
].join("\n");
const files = [
  { path: "site/hello.txt", content: b64("hello from the context\n") },
  { path: "site/run.sh", content: b64("#!/bin/sh\necho script-ran\n"), mode: 0o755 },
];

describe("template builds on a real host agent", () => {
  let firstMs = 0;

  it("builds a recipe (USER/WORKDIR/COPY/ENV/RUN) into an image template a sandbox sees", async () => {
    const started = Date.now();
    const queued = await submit({ name: "recipe-env", recipe, files });
    const done = await waitBuild(queued.id, ended);
    firstMs = Date.now() - started;
    expect(done, await logText(queued.id)).toMatchObject({
      status: "ready",
      current_step: 5,
      total_steps: 5,
    });
    expect(done.steps.every((s) => s.status === "done")).toBe(true);
    expect(await liveBuildSandboxes()).toEqual([]);
    const logs = await logText(queued.id);
    expect(logs).toMatch(/cache layer for steps 1-5 saved/);
    expect(logs).toMatch(/template recipe-env ready \(image/);

    const templates = await call(t.app, "GET", "/v1/snapshots/recipe-env", { token });
    expect(templates.body).toMatchObject({ type: "image", id: done.template_id });

    const sb = await createSandbox("recipe-env");
    const out = await sh(
      sb,
      "cd /home/builder/app && cat hello.txt greeting.txt whoami.txt ran.txt && stat -c %U hello.txt && echo env=$GREETING",
    );
    expect(out.stdout).toBe(
      "hello from the context\nhi there/built\nbuilder\nscript-ran\nbuilder\nenv=hi there\n",
    );
    // The last USER and WORKDIR are the sandbox's defaults.
    expect((await sh(sb, "whoami && pwd")).stdout).toBe("builder\n/home/builder/app\n");
    await destroy(sb);
  });

  it("reuses the cached layers on an unchanged rebuild, and skip_cache runs every step", async () => {
    const started = Date.now();
    const again = await submit({ name: "recipe-env", recipe, files });
    const done = await waitBuild(again.id, ended);
    const cachedMs = Date.now() - started;
    expect(done.status, await logText(again.id)).toBe("ready");
    expect(done.steps.map((s) => s.status)).toEqual(["cached", "cached", "cached", "cached", "cached"]);
    expect(await logText(again.id)).toMatch(/steps 1-5 reused from the layer cache/);
    process.stderr.write(`build: full ${firstMs} ms, fully cached rebuild ${cachedMs} ms\n`);

    const fresh = await submit({ name: "recipe-env", recipe, files, skip_cache: true });
    const rebuilt = await waitBuild(fresh.id, ended);
    expect(rebuilt.status, await logText(fresh.id)).toBe("ready");
    expect(rebuilt.steps.every((s) => s.status === "done")).toBe(true);
    expect(await logText(fresh.id)).toMatch(/skip_cache/);
  });

  it("with a start command and ready check, a new sandbox has the process running at once", async () => {
    const queued = await submit({
      name: "server-env",
      dockerfile: [
        "FROM minimal",
        "RUN mkdir -p /tmp/site && echo served > /tmp/site/index.html",
        'CMD ["python3", "-m", "http.server", "8099", "--directory", "/tmp/site"]',
        "HEALTHCHECK CMD python3 -c \"import urllib.request as u; u.urlopen('http://127.0.0.1:8099/')\"",
      ].join("\n"),
    });
    const done = await waitBuild(queued.id, ended);
    expect(done.status, await logText(queued.id)).toBe("ready");
    expect(await logText(queued.id)).toMatch(/ready check passed/);
    const tpl = await call(t.app, "GET", "/v1/snapshots/server-env", { token });
    expect(tpl.body.type).toBe("snapshot");

    const sb = await createSandbox("server-env");
    const out = await sh(
      sb,
      "python3 -c \"import urllib.request as u; print(u.urlopen('http://127.0.0.1:8099/').read().decode().strip())\"",
    );
    expect(out.stdout).toBe("served\n");
    await destroy(sb);
  });

  it("reports the failing step and its output", async () => {
    const queued = await submit({
      name: "broken-env",
      recipe: "RUN echo fine\nRUN echo before-fail && exit 3",
    });
    const done = await waitBuild(queued.id, ended);
    expect(done).toMatchObject({ status: "error", failed_step: 2 });
    expect(done.error).toMatch(/step 2 \(RUN echo before-fail && exit 3\) failed: exit code 3\nbefore-fail/);
    expect(done.steps.map((s) => s.status)).toEqual(["done", "failed"]);
    expect((await call(t.app, "GET", "/v1/snapshots/broken-env", { token })).status).toBe(404);
    expect(await liveBuildSandboxes()).toEqual([]);
  });

  it("cancels a running build: sandbox destroyed, no template", async () => {
    const queued = await submit({ name: "cancel-env", recipe: "RUN echo start\nRUN sleep 600" });
    await waitBuild(queued.id, (b) => b.steps[1]?.status === "running" || ended(b));
    const res = await call(t.app, "POST", `/v1/builds/${queued.id}/cancel`, { token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status).toBe("cancelled");
    // The runner winds down: it logs the cancel and leaves nothing behind.
    const deadline = Date.now() + 60_000;
    while (!/build cancelled/.test(await logText(queued.id)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await logText(queued.id)).toMatch(/build cancelled/);
    expect(await liveBuildSandboxes()).toEqual([]);
    expect((await call(t.app, "GET", `/v1/builds/${queued.id}`, { token })).body.status).toBe("cancelled");
    expect((await call(t.app, "GET", "/v1/snapshots/cancel-env", { token })).status).toBe(404);
  });

  it("a control plane shutting down mid-build fails the build (not resumed) and leaves no sandbox", async () => {
    const queued = await submit({ name: "shutdown-env", recipe: "RUN sleep 600" });
    await waitBuild(queued.id, (b) => b.steps[0]?.status === "running" || ended(b));
    await t.app.builds.close();
    const done = await waitBuild(queued.id, ended, 10_000);
    expect(done.status).toBe("error");
    expect(done.error).toMatch(/shut down during this build; it was failed \(not resumed\)/);
    expect(await liveBuildSandboxes()).toEqual([]);
    await t.app.builds.start(); // the next "process" builds again
  });
});
