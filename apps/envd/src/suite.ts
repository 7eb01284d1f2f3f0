import { randomBytes } from "node:crypto";
import { basicAuth, type EnvdTarget, envdClients, type SuiteSession } from "@wrenn/testing/envd-target";
import { beforeAll, describe, expect, it } from "vitest";
import { registerFilesTests } from "./suite-files.ts";
import { registerFilesystemTests } from "./suite-filesystem.ts";
import { registerProcessTests } from "./suite-process.ts";
import { registerSdkTests } from "./suite-sdk.ts";

/**
 * The envd test suite, shared by the host run (envd as a child process) and
 * the microVM run (envd inside a real guest). `getTarget` is called once the
 * test file's own setup has started envd. The first tests initialize envd with
 * an access token, like the host agent does after boot; everything after runs
 * with that token.
 */
export function registerEnvdSuite(getTarget: () => EnvdTarget): void {
  const session = { accessToken: `tok-${randomBytes(16).toString("hex")}` } as SuiteSession;
  const getSession = () => session;
  beforeAll(() => {
    session.target = getTarget();
  });

  describe("health and init", () => {
    it("answers /health with 204 before init", async () => {
      const res = await fetch(`${session.target.baseUrl}/health`);
      expect(res.status).toBe(204);
    });

    it("serves RPCs without a token before init", async () => {
      const { process } = envdClients(session, { token: null, user: "root" });
      const list = await process.list({});
      expect(Array.isArray(list.processes)).toBe(true);
    });

    it("rejects a malformed /init body without leaking internals", async () => {
      const res = await fetch(`${session.target.baseUrl}/init`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{not json",
      });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { code: number; message: string };
      expect(body.code).toBe(400);
      expect(body.message).not.toMatch(/\n\s+at /);
      const badUser = await fetch(`${session.target.baseUrl}/init`, {
        method: "POST",
        body: JSON.stringify({ defaultUser: "nobody-here" }),
      });
      expect(badUser.status).toBe(400);
    });

    it("initializes env vars, token, default user, identity and clock", async () => {
      const { target } = session;
      const res = await fetch(`${target.baseUrl}/init`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          envVars: { SUITE_VAR: "from-init", SECOND: "2" },
          accessToken: session.accessToken,
          defaultUser: "user",
          timestamp: new Date().toISOString(),
          sandboxId: "sbx-suite",
          templateId: "tpl-suite",
        }),
      });
      expect(res.status).toBe(204);
      const envs = await fetch(`${target.baseUrl}/envs`, {
        headers: { "X-Access-Token": session.accessToken },
      });
      expect(envs.status).toBe(200);
      expect(await envs.json()).toMatchObject({
        SUITE_VAR: "from-init",
        SECOND: "2",
        WRENN_SANDBOX_ID: "sbx-suite",
        WRENN_TEMPLATE_ID: "tpl-suite",
      });
      // The suite's scratch directory, world-writable so both users can work in it.
      const { process } = envdClients(session, { user: "root" });
      for await (const _ of process.start({
        process: {
          cmd: "/bin/sh",
          args: ["-c", `mkdir -p ${target.scratchDir} && chmod 1777 ${target.scratchDir}`],
        },
      })) {
        // drain
      }
    });
  });

  describe("clock", () => {
    it("sets the clock from /init's timestamp only where allowed", async () => {
      const { target } = session;
      const ahead = Date.now() + 3_600_000;
      const init = (timestamp: string) =>
        fetch(`${target.baseUrl}/init`, {
          method: "POST",
          headers: { "X-Access-Token": session.accessToken },
          body: JSON.stringify({ timestamp }),
        });
      expect((await init(new Date(ahead).toISOString())).status).toBe(204);
      const { process } = envdClients(session, { user: "root" });
      const readClock = async () => {
        let out = "";
        for await (const m of process.start({ process: { cmd: "/bin/date", args: ["+%s"] } })) {
          const e = m.event?.event;
          if (e?.case === "data" && e.value.output.case === "stdout")
            out += Buffer.from(e.value.output.value);
        }
        return Number(out.trim()) * 1000;
      };
      const observed = await readClock();
      if (target.clockSync) {
        expect(Math.abs(observed - ahead)).toBeLessThan(60_000);
        expect((await init(new Date().toISOString())).status).toBe(204);
        expect(Math.abs((await readClock()) - Date.now())).toBeLessThan(60_000);
      } else {
        // envd on a shared host must never touch the host's clock.
        expect(Math.abs(observed - Date.now())).toBeLessThan(60_000);
      }
    });
  });

  describe("auth", () => {
    it("keeps /health open after init", async () => {
      expect((await fetch(`${session.target.baseUrl}/health`)).status).toBe(204);
    });

    it("requires the access token on HTTP routes", async () => {
      const { baseUrl } = session.target;
      expect((await fetch(`${baseUrl}/envs`)).status).toBe(401);
      expect((await fetch(`${baseUrl}/envs`, { headers: { "X-Access-Token": "wrong" } })).status).toBe(401);
      expect((await fetch(`${baseUrl}/metrics`)).status).toBe(401);
      expect((await fetch(`${baseUrl}/init`, { method: "POST", body: "{}" })).status).toBe(401);
      expect((await fetch(`${baseUrl}/files?path=/etc/hostname`)).status).toBe(401);
    });

    it("requires the access token on RPCs (HTTP/1.1 and HTTP/2)", async () => {
      for (const httpVersion of ["1.1", "2"] as const) {
        await expect(
          envdClients(session, { token: null, httpVersion }).process.list({}),
        ).rejects.toMatchObject({
          code: 16,
        });
        await expect(
          envdClients(session, { token: "wrong", httpVersion }).filesystem.stat({ path: "/" }),
        ).rejects.toMatchObject({ code: 16 });
        const ok = await envdClients(session, { httpVersion }).filesystem.stat({ path: "/" });
        expect(ok.entry?.path).toBe("/");
      }
    });

    it("rejects an unknown user", async () => {
      const { filesystem } = envdClients(session, { user: "no-such-user" });
      await expect(filesystem.stat({ path: "/" })).rejects.toMatchObject({ code: 16 });
      const res = await fetch(`${session.target.baseUrl}/files?path=/etc/hostname`, {
        headers: { "X-Access-Token": session.accessToken, Authorization: basicAuth("no-such-user") },
      });
      expect(res.status).toBe(401);
    });

    it("accepts a re-init only with the current token", async () => {
      const { baseUrl } = session.target;
      const denied = await fetch(`${baseUrl}/init`, {
        method: "POST",
        body: JSON.stringify({ accessToken: "stolen" }),
      });
      expect(denied.status).toBe(401);
      const allowed = await fetch(`${baseUrl}/init`, {
        method: "POST",
        headers: { "X-Access-Token": session.accessToken },
        body: JSON.stringify({ envVars: { LATER: "yes" } }),
      });
      expect(allowed.status).toBe(204);
    });
  });

  describe("metrics", () => {
    it("reports cpu, memory and disk of the machine", async () => {
      const res = await fetch(`${session.target.baseUrl}/metrics`, {
        headers: { "X-Access-Token": session.accessToken },
      });
      expect(res.status).toBe(200);
      const metrics = (await res.json()) as Record<string, number>;
      expect(metrics.cpu_count).toBeGreaterThanOrEqual(1);
      expect(metrics.mem_total).toBeGreaterThan(metrics.mem_used ?? 0);
      expect(metrics.mem_used).toBeGreaterThan(0);
      expect(metrics.disk_total).toBeGreaterThan(metrics.disk_used ?? 0);
      expect(metrics.cpu_used_pct).toBeGreaterThanOrEqual(0);
      expect(Math.abs((metrics.ts ?? 0) - Date.now() / 1000)).toBeLessThan(120);
    });
  });

  registerProcessTests(getSession);
  registerFilesystemTests(getSession);
  registerFilesTests(getSession);
  registerSdkTests(getSession);
}
