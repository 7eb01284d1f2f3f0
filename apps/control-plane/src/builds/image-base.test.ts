import { randomBytes } from "node:crypto";
import { isWrennError } from "@wrenn/common";
import { getBuild } from "@wrenn/db";
import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretBox } from "../crypto/secret-box.ts";
import { imageEnvs, sealRegistryAuth } from "./image-base.ts";

// Builds FROM an OCI image on real PostgreSQL and Redis, without a host: what is checked at
// submission, how registry credentials are stored, and the build failing clearly when the
// registry cannot be reached (from-image.vm.test.ts builds from a real registry on microVMs).
const KEY = randomBytes(32).toString("hex");
const PASSWORD = `pw-${randomBytes(6).toString("hex")}`;
let t: TestApp;
let token: string;

beforeAll(async () => {
  t = await createTestApp({ env: { WRENN_ENCRYPTION_KEY: KEY } });
  token = (await signupUser(t.app, "Imager")).token;
  await t.app.builds.start();
});

afterAll(async () => {
  await t?.app.builds.close();
  await t?.cleanup();
});

const submit = (body: Record<string, unknown>) =>
  call(t.app, "POST", "/v1/builds", { token, body: { skip_pre_post: true, ...body } });

describe("builds FROM an OCI image", () => {
  it("refuses a bad reference naming the line, and credentials without an image", async () => {
    const bad = await submit({ name: "img", dockerfile: "FROM bad:ref:\u00e9\nRUN true" });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^dockerfile line 1: image reference/);
    const stray = await submit({
      name: "img",
      recipe: "RUN true",
      registry_auth: { username: "u", password: PASSWORD },
    });
    expect(stray.status).toBe(400);
    expect(stray.body.message).toContain("registry credentials go with a base image");
  });

  it("stores the credentials sealed, never shows them, and fails clearly when the registry is unreachable", async () => {
    // Port 9 on loopback: nothing listens, the control plane's manifest read fails at once.
    const res = await submit({
      name: "img",
      dockerfile: "FROM 127.0.0.1:9/team/app:v1\nRUN true",
      registry_auth: { username: "wrenn", password: PASSWORD },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.base_template).toBe("127.0.0.1:9/team/app:v1");
    expect(JSON.stringify(res.body)).not.toContain(PASSWORD);

    const row = await getBuild(t.db.db, null, res.body.id.replace(/^bld-/, ""));
    if (!row) throw new Error("the build row is missing");
    const fromImage = (row.spec as { fromImage: { ref: string; auth: string } }).fromImage;
    expect(fromImage.ref).toBe("127.0.0.1:9/team/app:v1");
    expect(JSON.stringify(row)).not.toContain(PASSWORD);
    const box = SecretBox.fromSettings(KEY);
    const context = `build-registry-auth:${row.id}`;
    expect(box.openJson(Buffer.from(fromImage.auth, "base64"), context)).toEqual({
      username: "wrenn",
      password: PASSWORD,
    });

    const deadline = Date.now() + 30_000;
    let build = res.body;
    while (!["error", "ready", "cancelled"].includes(build.status) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      build = (await call(t.app, "GET", `/v1/builds/${res.body.id}`, { token })).body;
    }
    expect(build.status).toBe("error");
    expect(build.error).toMatch(/^image 127\.0\.0\.1:9\/team\/app:v1: /);
    const logs = await call(t.app, "GET", `/v1/builds/${res.body.id}/logs?limit=1000`, { token });
    expect(JSON.stringify(logs.body)).not.toContain(PASSWORD);
  });

  it("needs the platform key to keep credentials, and reads the image's Env", () => {
    let thrown: unknown;
    try {
      sealRegistryAuth(undefined, "b", { username: "u", password: "p" });
    } catch (err) {
      thrown = err;
    }
    expect(isWrennError(thrown) && thrown.code).toBe("failed_precondition");
    expect(imageEnvs({ config: { Env: ["PATH=/usr/bin:/bin", "EMPTY=", "A=b=c", "junk"] } })).toEqual({
      PATH: "/usr/bin:/bin",
      EMPTY: "",
      A: "b=c",
    });
  });
});
