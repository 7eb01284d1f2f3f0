import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWireId } from "../builds/service.ts";

// E2B's template-build API without a host (no workers run: builds stay queued): the
// request → upload-by-hash → trigger → status flow the `e2b` SDK drives, team scoping and
// refusals. The SDK-driven build in a VM is template-build.vm.test.ts.
let t: TestApp;
let key: string;
let otherKey: string;
let archive: Buffer;
const hash = createHash("sha256").update("hello-context").digest("hex");

async function apiKey(): Promise<string> {
  const user = await signupUser(t.app);
  const res = await call(t.app, "POST", "/v1/api-keys", { token: user.token, body: { name: "e2b" } });
  return res.body.key;
}

beforeAll(async () => {
  t = await createTestApp();
  key = await apiKey();
  otherKey = await apiKey();
  const dir = mkdtempSync(join(tmpdir(), "e2b-ctx-"));
  writeFileSync(join(dir, "hello.txt"), "hi from the context\n");
  execFileSync("tar", ["czf", join(dir, "ctx.tgz"), "-C", dir, "hello.txt"]);
  archive = readFileSync(join(dir, "ctx.tgz"));
  rmSync(dir, { recursive: true });
});

afterAll(async () => {
  await t?.app.builds.close();
  await t?.cleanup();
});

const e2b = (method: string, path: string, body?: unknown, apiKeyOverride = key) =>
  call(t.app, method, `/e2b${path}`, { apiKey: apiKeyOverride, ...(body === undefined ? {} : { body }) });

async function upload(url: string, body: Buffer): Promise<number> {
  const u = new URL(url);
  const res = await t.app.request(`${u.pathname}${u.search}`, { method: "PUT", body });
  return res.status;
}

describe("E2B template builds", () => {
  it("requests, uploads by hash, triggers and reports a build", async () => {
    const req = await e2b("POST", "/v3/templates", { name: "e2b-app", cpuCount: 1, memoryMB: 512 });
    expect(req.status, JSON.stringify(req.body)).toBe(202);
    const { templateID, buildID } = req.body;
    expect(templateID).toBe("e2b-app");
    const waiting = await e2b("GET", `/templates/${templateID}/builds/${buildID}/status`);
    expect(waiting.body).toMatchObject({ status: "waiting", logEntries: [] });

    const link = await e2b("GET", `/templates/${templateID}/files/${hash}`);
    expect(link.body.present).toBe(false);
    expect(await upload(link.body.url.replace(/token=\w+/, "token=nope"), archive)).toBe(403);
    expect(await upload(link.body.url, archive)).toBe(201);
    expect(await upload(link.body.url, archive)).toBe(403); // one use
    expect((await e2b("GET", `/templates/${templateID}/files/${hash}`)).body).toEqual({ present: true });
    // Uploads are per team: another team uploads its own.
    expect((await e2b("GET", `/templates/x/files/${hash}`, undefined, otherKey)).body.present).toBe(false);

    const template = {
      fromTemplate: "base",
      startCmd: "sleep infinity",
      readyCmd: "[ -f /tmp/ready ]",
      force: false,
      steps: [
        { type: "RUN", args: ["echo hi"], force: false },
        { type: "COPY", args: ["hello.txt", "/tmp/hello.txt", "", ""], filesHash: hash, force: false },
        { type: "ENV", args: ["GREETING", "hello"], force: false },
      ],
    };
    const stranger = await e2b("POST", `/v2/templates/${templateID}/builds/${buildID}`, template, otherKey);
    expect(stranger.status).toBe(404);
    const trig = await e2b("POST", `/v2/templates/${templateID}/builds/${buildID}`, template);
    expect(trig.status, JSON.stringify(trig.body)).toBe(202);

    const status = await e2b("GET", `/templates/${templateID}/builds/${buildID}/status?logsOffset=0`);
    expect(status.body).toMatchObject({ templateID, buildID, status: "waiting" });
    const wrenn = await call(t.app, "GET", `/v1/builds/${buildWireId(buildID)}`, { apiKey: key });
    expect(wrenn.status).toBe(200);
    expect(wrenn.body.steps.map((s: { description: string }) => s.description)).toEqual([
      "RUN echo hi",
      "COPY hello.txt /tmp/hello.txt",
      'ENV GREETING="hello"',
    ]);
    expect(
      (await e2b("GET", `/templates/${templateID}/builds/${buildID}/status`, undefined, otherKey)).status,
    ).toBe(404);
    // Triggered once: the request is spent.
    expect((await e2b("POST", `/v2/templates/${templateID}/builds/${buildID}`, template)).status).toBe(404);
  });

  it("refuses what Wrenn cannot build with E2B's error body", async () => {
    const tagged = await e2b("POST", "/v3/templates", { name: "app:v1" });
    expect(tagged).toMatchObject({ status: 400, body: { code: 400 } });
    const { templateID, buildID } = (await e2b("POST", "/v3/templates", { name: "e2b-img" })).body;
    const fromGcp = await e2b("POST", `/v2/templates/${templateID}/builds/${buildID}`, {
      fromImage: "gcr.io/p/img:1",
      fromImageRegistry: { type: "gcp", serviceAccountJson: "{}" },
      steps: [],
    });
    expect(fromGcp.status).toBe(400);
    expect(fromGcp.body.message).toContain("fromGCPRegistry");
    const missing = await e2b("POST", `/v2/templates/${templateID}/builds/${buildID}`, {
      steps: [{ type: "COPY", args: ["a", "/a"], filesHash: "b".repeat(64) }],
    });
    expect(missing.status).toBe(409);
    expect(missing.body.message).toContain("not uploaded");
    expect((await e2b("GET", "/templates/e2b-img/files/nothex")).status).toBe(400);
    expect((await e2b("GET", "/templates/e2b-img/builds/not-a-build/status")).status).toBe(404);
    expect((await call(t.app, "POST", "/e2b/v3/templates", { body: { name: "x" } })).status).toBe(401);
  });

  it("answers the alias check Template.exists() makes", async () => {
    expect((await e2b("GET", "/templates/aliases/base")).status).toBe(200);
    expect((await e2b("GET", "/templates/aliases/no-such-template")).status).toBe(404);
  });
});
