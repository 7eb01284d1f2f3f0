import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { createLogger } from "@wrenn/common";
import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectToControlPlane,
  detectHostSpecs,
  type HostSession,
  loadCredentials,
  saveCredentials,
} from "./index.ts";

// The real control plane (PostgreSQL + Redis) served over HTTP on loopback.
let t: TestApp;
let url: string;
let server: ReturnType<typeof serve>;
let dir: string;
let adminToken: string;
const logger = createLogger("registration-test", "silent");

beforeAll(async () => {
  t = await createTestApp();
  server = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), "wrenn-registration-"));
  const admin = await signupUser(t.app, "Admin");
  await t.db.pool.query("UPDATE users SET is_admin = true WHERE id = $1", [admin.user.id.slice(4)]);
  adminToken = admin.token;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await t?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function newToken(): Promise<string> {
  const res = await call(t.app, "POST", "/v1/hosts", { token: adminToken, body: { type: "regular" } });
  expect(res.status).toBe(201);
  return res.body.registration_token as string;
}

async function hostRow(wireId: string) {
  const r = await t.db.pool.query(
    "SELECT status, address, arch, cpu_count, last_heartbeat_at FROM hosts WHERE id = $1",
    [wireId.slice(5)],
  );
  return r.rows[0];
}

describe("host registration", () => {
  it("detects specs from this machine", async () => {
    const specs = await detectHostSpecs(dir);
    expect(["x86_64", "aarch64"]).toContain(specs.arch);
    expect(specs.cpuCount).toBeGreaterThanOrEqual(1);
    expect(specs.memoryMb).toBeGreaterThan(256);
    expect(specs.diskGb).toBeGreaterThan(0);
  });

  it("registers with a token, saves 0600 credentials, heartbeats, and reconnects from the file", async () => {
    const path = join(dir, "a", "host-credentials.json");
    const revoked: string[] = [];
    const session = await connectToControlPlane({
      credentialsPath: path,
      dataDir: dir,
      controlPlaneUrl: url,
      registrationToken: await newToken(),
      address: "127.0.0.1:5999",
      logger,
      onRevoked: async () => void revoked.push("x"),
    });
    try {
      expect(await session.beat()).toBe("ok");
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      const creds = await loadCredentials(path);
      expect(creds?.hostId).toMatch(/^host-/);
      const row = await hostRow(creds?.hostId ?? "");
      expect(row).toMatchObject({ status: "online", address: "127.0.0.1:5999" });
      expect(row.last_heartbeat_at).not.toBeNull();
    } finally {
      await session.stop();
    }
    // A restart without a token uses the saved credentials.
    const again = await connectToControlPlane({
      credentialsPath: path,
      dataDir: dir,
      logger,
      onRevoked: async () => {},
    });
    expect(await again.beat()).toBe("ok");
    await again.stop();
    expect(revoked).toEqual([]);
  });

  it("sends the sandbox report with every beat, and again right after an in-flight beat on reportNow()", async () => {
    const bodies: unknown[] = [];
    let report = {
      sandboxes: [{ sandbox_id: "sb-a", state: "running" }],
      auto_paused_sandbox_ids: [] as string[],
    };
    const session = await connectToControlPlane({
      credentialsPath: join(dir, "report", "host-credentials.json"),
      dataDir: dir,
      controlPlaneUrl: url,
      registrationToken: await newToken(),
      address: "127.0.0.1:5998",
      logger,
      onRevoked: async () => {},
      intervalMs: 3_600_000,
      report: () => report,
      fetch: async (input, init) => {
        if (String(input).endsWith("/heartbeat")) bodies.push(JSON.parse(String(init?.body)));
        return fetch(input, init);
      },
    });
    try {
      await session.beat(); // joins the first beat start() sent, if still in flight
      expect(bodies.at(-1)).toEqual(report);
      // A change while a beat is in flight: that beat's report is old, so another one follows.
      const inFlight = session.beat();
      report = { sandboxes: [], auto_paused_sandbox_ids: ["sb-a"] };
      session.reportNow();
      await inFlight;
      const deadline = Date.now() + 5_000;
      while (JSON.stringify(bodies.at(-1)) !== JSON.stringify(report)) {
        expect(Date.now()).toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await session.stop();
    }
  });

  it("refreshes on a refused host token and saves the rotated credentials", async () => {
    const path = join(dir, "b.json");
    const first = await connectToControlPlane({
      credentialsPath: path,
      dataDir: dir,
      controlPlaneUrl: url,
      registrationToken: await newToken(),
      address: "127.0.0.1:5998",
      logger,
      onRevoked: async () => {},
    });
    await first.stop();
    const saved = await loadCredentials(path);
    if (!saved) throw new Error("no credentials saved");
    // A corrupted host JWT (e.g. signed with a rotated secret) is refused with 401.
    await saveCredentials(path, { ...saved, token: `${saved.token}x` });
    const session = await connectToControlPlane({
      credentialsPath: path,
      dataDir: dir,
      logger,
      onRevoked: async () => {},
    });
    try {
      expect(await session.beat()).toBe("refreshed");
      const rotated = await loadCredentials(path);
      expect(rotated?.refreshToken).not.toBe(saved.refreshToken);
      expect(rotated?.token).toBe(session.credentials.token);
      expect(await session.beat()).toBe("ok");
    } finally {
      await session.stop();
    }
  });

  it("pauses everything once when the control plane refuses the host (deleted)", async () => {
    const path = join(dir, "c.json");
    let pauses = 0;
    const session: HostSession = await connectToControlPlane({
      credentialsPath: path,
      dataDir: dir,
      controlPlaneUrl: url,
      registrationToken: await newToken(),
      address: "127.0.0.1:5997",
      logger,
      onRevoked: async () => void pauses++,
    });
    try {
      expect(await session.beat()).toBe("ok");
      const del = await call(t.app, "DELETE", `/v1/hosts/${session.credentials.hostId}`, {
        token: adminToken,
      });
      expect(del.status).toBe(204);
      expect(await session.beat()).toBe("revoked");
      expect(await session.beat()).toBe("revoked");
      expect(pauses).toBe(1);
      expect(session.revoked).toBe(true);
    } finally {
      await session.stop();
    }
  });

  it("keeps the session when the control plane is merely down", async () => {
    const path = join(dir, "d.json");
    const session = await connectToControlPlane({
      credentialsPath: path,
      dataDir: dir,
      controlPlaneUrl: url,
      registrationToken: await newToken(),
      address: "127.0.0.1:5996",
      logger,
      onRevoked: async () => {},
    });
    await session.stop();
    const creds = await loadCredentials(path);
    if (!creds) throw new Error("no credentials saved");
    // Port 9 (discard) on loopback: nothing listens, the connection is refused.
    await saveCredentials(path, { ...creds, controlPlaneUrl: "http://127.0.0.1:9" });
    const down = await connectToControlPlane({
      credentialsPath: path,
      dataDir: dir,
      logger,
      onRevoked: async () => {},
    });
    expect(await down.beat()).toBe("unreachable");
    expect(down.revoked).toBe(false);
    await down.stop();
  });

  it("explains what is missing instead of starting unregistered", async () => {
    await expect(
      connectToControlPlane({
        credentialsPath: join(dir, "none.json"),
        dataDir: dir,
        logger,
        onRevoked: async () => {},
      }),
    ).rejects.toThrow(/WRENN_REGISTRATION_TOKEN/);
    await writeFile(join(dir, "bad.json"), "{");
    await expect(
      connectToControlPlane({
        credentialsPath: join(dir, "bad.json"),
        dataDir: dir,
        logger,
        onRevoked: async () => {},
      }),
    ).rejects.toThrow(/not valid JSON/);
    await expect(
      connectToControlPlane({
        credentialsPath: join(dir, "e.json"),
        dataDir: dir,
        controlPlaneUrl: url,
        registrationToken: "wrh_not-a-real-token",
        address: "127.0.0.1:5995",
        logger,
        onRevoked: async () => {},
      }),
    ).rejects.toThrow(/registration refused/);
  });
});
