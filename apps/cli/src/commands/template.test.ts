import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, spawnCli } from "../spawn-cli.ts";
import { contextFiles, copySources, looksLikeDockerfile, progressLine } from "./template.ts";

// `wrenn template` against a real control plane (PostgreSQL, Redis, BullMQ workers) served on
// loopback, with no host registered: builds are queued, listed, cancelled, and a followed build
// fails with "no host is online" (real builds run in apps/control-plane/src/builds/builds.vm.test.ts).
let t: TestApp;
let server: ReturnType<typeof serve>;
let apiUrl: string;
let apiKey: string;
let dir: string;

function runCli(args: string[]): Promise<CliRun> {
  return spawnCli(["template", ...args], {
    env: { ...process.env, WRENN_API_URL: apiUrl, WRENN_API_KEY: apiKey, NO_COLOR: "1" },
  });
}

beforeAll(async () => {
  t = await createTestApp();
  server = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((r) => server.once("listening", r));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const owner = await signupUser(t.app);
  apiKey = (await call(t.app, "POST", "/v1/api-keys", { token: owner.token, body: { name: "cli" } })).body
    .key;
  dir = await mkdtemp(join(tmpdir(), "wrenn-cli-template-"));
  await mkdir(join(dir, "app"));
  await writeFile(join(dir, "app", "main.py"), "print('hi')\n");
  await writeFile(join(dir, "recipe"), "COPY app/ /srv/app/\nRUN python3 /srv/app/main.py\n");
  await writeFile(join(dir, "bad"), "RUN true\nBOGUS thing\n");
}, 60_000);

afterAll(async () => {
  server?.close();
  await t?.app.builds.close();
  await t?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe("helpers", () => {
  it("tells Dockerfiles from recipes and finds COPY sources", () => {
    expect(looksLikeDockerfile("x/Dockerfile", "RUN x")).toBe(true);
    expect(looksLikeDockerfile("recipe", "# c\nFROM minimal\nRUN x")).toBe(true);
    expect(looksLikeDockerfile("recipe", "RUN x")).toBe(false);
    expect(copySources("COPY a b\nADD --chown=x c d/\nRUN cp a b\nCOPY e \\\n  f g/")).toEqual([
      "a",
      "c",
      "e",
      "f",
    ]);
  });

  it("reads the context files COPY needs, refusing paths outside it", () => {
    expect(Object.keys(contextFiles(dir, ["app"]))).toEqual(["app/main.py"]);
    expect(() => contextFiles(dir, ["../etc"])).toThrow(/outside the context/);
    expect(() => contextFiles(dir, ["nope"])).toThrow(/not found/);
  });

  it("draws a progress bar from the build's steps", () => {
    const line = progressLine({
      currentStep: 1,
      totalSteps: 4,
      status: "building",
      steps: [{ status: "done" }, { status: "running", description: "RUN make" }],
    } as never);
    expect(line).toBe("[#####---------------] 1/4 RUN make");
  });
});

describe("wrenn template", () => {
  it("refuses a bad recipe with the line", async () => {
    const r = await runCli(["build", "-f", join(dir, "bad"), "--name", "x"]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/recipe line 2: unknown instruction BOGUS/);
  });

  it("queues a build, lists it and cancels it", async () => {
    const queued = await runCli([
      "build",
      "-f",
      join(dir, "recipe"),
      "--name",
      "cli-env",
      "--skip-pre-post",
      "--json",
    ]);
    expect(queued.code, queued.err).toBe(0);
    const build = JSON.parse(queued.out) as { id: string; status: string; total_steps: number };
    expect(build).toMatchObject({ status: "queued", total_steps: 2 });
    const listed = await runCli(["builds", "--name", "cli-env"]);
    expect(listed.out).toMatch(new RegExp(`${build.id}\\s+cli-env\\s+queued`));
    const cancelled = await runCli(["cancel", build.id]);
    expect(cancelled.code, cancelled.err).toBe(0);
    expect(cancelled.out).toBe(`Cancelled build ${build.id} of template cli-env.\n`);
  });

  it("--follow streams the logs and exits 1 when the build fails", async () => {
    await t.app.builds.start();
    const r = await runCli([
      "build",
      "-f",
      join(dir, "recipe"),
      "--name",
      "cli-env",
      "--skip-pre-post",
      "--follow",
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/==> build bld-[0-9a-f-]+ of template cli-env started/);
    expect(r.out).toMatch(/==> build failed: no host is online to run the build/);
    expect(r.err).toMatch(/\[-+\] 0\/2/);
    expect(r.err).toMatch(/error: no host is online/);
  });
});
