import { randomUUID } from "node:crypto";
import { updateSandbox } from "@wrenn/db";
import {
  call,
  createTestApp,
  insertOnlineHost,
  insertSandbox,
  signupUser,
  type TestApp,
} from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSignedEnvdFileRequest, ProxyAccess } from "./access.ts";
import type { ProxyAddress } from "./address.ts";

// The port proxy's authorization and lookup cache on real PostgreSQL and Redis
// (no agent: the forwarding itself is covered by port-proxy.vm.test.ts).
let t: TestApp;
let access: ProxyAccess;
let teamId: string;
let apiKey: string;
let otherKey: string;
let hostId: string;

async function sandbox(state: "running" | "paused", token = `tok-${randomUUID()}`) {
  const id = await insertSandbox(t, { teamId, hostId, state, envdAccessToken: token });
  const address: ProxyAddress = { sandboxId: id, wireId: `sb-${id}`, port: 8000 };
  return { id, token, address };
}

const lastActive = async (id: string) =>
  (await t.db.pool.query("SELECT last_active_at FROM sandboxes WHERE id = $1", [id])).rows[0]
    ?.last_active_at as Date | null;

beforeAll(async () => {
  t = await createTestApp();
  access = new ProxyAccess({ db: t.db.db, redis: t.redis.redis, log: t.log });
  const user = await signupUser(t.app);
  teamId = user.team.id.slice("team-".length);
  apiKey = (await call(t.app, "POST", "/v1/api-keys", { token: user.token, body: { name: "p" } })).body.key;
  const other = await signupUser(t.app, "Other");
  otherKey = (await call(t.app, "POST", "/v1/api-keys", { token: other.token, body: { name: "o" } })).body
    .key;
  hostId = await insertOnlineHost(t);
});

afterAll(async () => {
  await t?.cleanup();
});

describe("ProxyAccess", () => {
  it("accepts the sandbox's access token or its team's API key, nothing else", async () => {
    const s = await sandbox("running");
    expect(await access.authorize(s.address, { accessToken: s.token })).toEqual({
      hostAddress: "127.0.0.1:7001",
    });
    expect(await access.authorize(s.address, { apiKey })).toEqual({ hostAddress: "127.0.0.1:7001" });
    // A wrong token with the right key still passes on the key.
    expect(await access.authorize(s.address, { apiKey, accessToken: "wrong" })).toBeTruthy();
    await expect(access.authorize(s.address, {})).rejects.toMatchObject({ code: "unauthenticated" });
    await expect(access.authorize(s.address, { accessToken: "wrong" })).rejects.toMatchObject({
      code: "unauthenticated",
    });
    await expect(access.authorize(s.address, { apiKey: "wrn_revoked" })).rejects.toMatchObject({
      code: "unauthenticated",
    });
    await expect(access.authorize(s.address, { apiKey: otherKey })).rejects.toMatchObject({
      code: "not_found",
    });
    const unknown = { ...s.address, sandboxId: randomUUID() };
    await expect(access.authorize(unknown, { apiKey })).rejects.toMatchObject({ code: "not_found" });
  });

  it("caches running sandboxes (one query per miss) and drops the entry on invalidate", async () => {
    const s = await sandbox("running");
    await access.authorize(s.address, { accessToken: s.token });
    const cached = JSON.parse((await t.redis.redis.get(`wrenn:proxy:target:${s.id}`)) ?? "null");
    // Only a hash of the token is cached.
    expect(cached).toMatchObject({ teamId, state: "running", hostAddress: "127.0.0.1:7001" });
    expect(JSON.stringify(cached)).not.toContain(s.token);

    // While cached, the database is not read: a moved host is seen only after invalidation.
    await t.db.pool.query("UPDATE hosts SET address = '127.0.0.1:7002' WHERE id = $1", [hostId]);
    expect((await access.authorize(s.address, { accessToken: s.token })).hostAddress).toBe("127.0.0.1:7001");
    await access.invalidate(s.id);
    expect((await access.authorize(s.address, { accessToken: s.token })).hostAddress).toBe("127.0.0.1:7002");
    await t.db.pool.query("UPDATE hosts SET address = '127.0.0.1:7001' WHERE id = $1", [hostId]);
    await access.invalidate(s.id);
  });

  it("answers failed_precondition for a sandbox that is not running, without caching it", async () => {
    const s = await sandbox("paused");
    await expect(access.authorize(s.address, { accessToken: s.token })).rejects.toMatchObject({
      code: "failed_precondition",
      message: "sandbox is paused; resume it to reach its ports",
      details: { sandboxState: "paused" }, // the port proxy answers E2B's 502 for it (not-running.ts)
    });
    expect(await t.redis.redis.get(`wrenn:proxy:target:${s.id}`)).toBeNull();
    // Resumed: reachable at once.
    await updateSandbox(t.db.db, s.id, { state: "running" });
    expect(await access.authorize(s.address, { accessToken: s.token })).toBeTruthy();
  });

  it("writes last_active_at at most once per interval", async () => {
    const s = await sandbox("running");
    expect(await lastActive(s.id)).toBeNull();
    await access.authorize(s.address, { accessToken: s.token });
    let first: Date | null = null;
    for (let i = 0; i < 50 && !first; i++) {
      await new Promise((r) => setTimeout(r, 20));
      first = await lastActive(s.id);
    }
    expect(first).toBeInstanceOf(Date);
    for (let i = 0; i < 5; i++) await access.authorize(s.address, { accessToken: s.token });
    await new Promise((r) => setTimeout(r, 200));
    expect(await lastActive(s.id)).toEqual(first);
  });

  it("routes a signed envd /files URL without a credential, still resolving the sandbox", async () => {
    const s = await sandbox("running");
    const envd = { ...s.address, port: 49983 };
    const signed = "/files?path=%2Fhome%2Fuser%2Fa.txt&signature=v1_abc&signature_expiration=9";
    expect(await access.authorizeSignedFileUrl(envd, signed)).toEqual({ hostAddress: "127.0.0.1:7001" });
    const unknown = { ...envd, sandboxId: randomUUID() };
    await expect(access.authorizeSignedFileUrl(unknown, signed)).rejects.toMatchObject({ code: "not_found" });
    const paused = await sandbox("paused");
    await expect(
      access.authorizeSignedFileUrl({ ...paused.address, port: 49983 }, signed),
    ).rejects.toMatchObject({ code: "failed_precondition" });
    // Anything else still needs a credential.
    await expect(access.authorizeSignedFileUrl(envd, "/files?path=a")).rejects.toMatchObject({
      code: "unauthenticated",
    });
    await expect(access.authorizeSignedFileUrl(s.address, signed)).rejects.toMatchObject({
      code: "unauthenticated",
    });
  });
});

describe("isSignedEnvdFileRequest", () => {
  const envd: ProxyAddress = { sandboxId: randomUUID(), wireId: "sb-x", port: 49983 };
  it("is true only for envd's /files, exactly as sent, with a signature parameter", () => {
    expect(isSignedEnvdFileRequest(envd, "/files?path=a&signature=v1_x")).toBe(true);
    expect(isSignedEnvdFileRequest(envd, "/files?signature=")).toBe(true);
    expect(isSignedEnvdFileRequest(envd, "/files?path=a")).toBe(false);
    expect(isSignedEnvdFileRequest(envd, "/files")).toBe(false);
    expect(isSignedEnvdFileRequest(envd, "/files/?signature=v1_x")).toBe(false);
    expect(isSignedEnvdFileRequest(envd, "/files/../process.Process/Start?signature=v1_x")).toBe(false);
    expect(isSignedEnvdFileRequest(envd, "/%66iles?signature=v1_x")).toBe(false);
    expect(isSignedEnvdFileRequest(envd, "/health?signature=v1_x")).toBe(false);
    expect(isSignedEnvdFileRequest(envd, "http://envd/files?signature=v1_x")).toBe(false);
    expect(isSignedEnvdFileRequest({ ...envd, port: 8000 }, "/files?signature=v1_x")).toBe(false);
    expect(isSignedEnvdFileRequest(envd, undefined)).toBe(false);
  });
});

describe("ProxyAccess: E2B's auto-resume", () => {
  it("resumes a paused auto-resume sandbox once for concurrent requests, then routes them all", async () => {
    const s = await sandbox("paused");
    await t.db.pool.query("UPDATE sandboxes SET auto_resume = true WHERE id = $1", [s.id]);
    const plain = await sandbox("paused");
    const calls: string[] = [];
    let resumed = 0;
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const waking = new ProxyAccess({
      db: t.db.db,
      redis: t.redis.redis,
      log: t.log,
      // As SandboxesService.resumeForTraffic: resumes only a paused sandbox, refuses otherwise.
      autoResume: async ({ sandboxId, teamId: team }) => {
        calls.push(`${team}/${sandboxId}`);
        await released;
        const { rowCount } = await t.db.pool.query(
          "UPDATE sandboxes SET state = 'running' WHERE id = $1 AND state = 'paused'",
          [sandboxId],
        );
        if (rowCount) resumed++;
        else throw new Error("sandbox is running");
      },
    });
    const requests = [1, 2, 3].map(() => waking.authorize(s.address, { accessToken: s.token }));
    const deadline = Date.now() + 5_000;
    while (calls.length === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    release();
    expect(await Promise.all(requests)).toEqual(Array(3).fill({ hostAddress: "127.0.0.1:7001" }));
    // Requests that arrive during the resume wait for it (one call); one whose lookup raced the
    // end of it may try again and is refused harmlessly: the sandbox is resumed exactly once.
    expect(resumed).toBe(1);
    expect(calls[0]).toBe(`${teamId}/${s.id}`);
    const callsBefore = calls.length;
    // Without auto-resume (or with a bad credential) a paused sandbox stays paused: not running.
    await expect(waking.authorize(plain.address, { accessToken: plain.token })).rejects.toMatchObject({
      code: "failed_precondition",
    });
    await t.db.pool.query("UPDATE sandboxes SET state = 'paused' WHERE id = $1", [s.id]);
    await expect(waking.authorize(s.address, { accessToken: "wrong" })).rejects.toMatchObject({
      code: "unauthenticated",
    });
    expect(calls).toHaveLength(callsBefore);
  });

  it("a failed resume answers not running, and the next request tries again", async () => {
    const s = await sandbox("paused");
    await t.db.pool.query("UPDATE sandboxes SET auto_resume = true WHERE id = $1", [s.id]);
    let calls = 0;
    const waking = new ProxyAccess({
      db: t.db.db,
      redis: t.redis.redis,
      log: t.log,
      autoResume: async () => {
        calls++;
        throw new Error("host down");
      },
    });
    for (let i = 0; i < 2; i++) {
      await expect(waking.authorize(s.address, { apiKey })).rejects.toMatchObject({
        code: "failed_precondition",
        details: { sandboxState: "paused" },
      });
    }
    expect(calls).toBe(2);
  });
});
