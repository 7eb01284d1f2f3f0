import { createServer, type ServerHttp2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ErrorCodes, errorCodeByConnectCode } from "@wrenn/common";
import { freePort } from "@wrenn/db";
import { HostAgentService } from "@wrenn/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentError, agentErrorCode, callAgent, HostClientPool } from "./pool.ts";

// A Connect server on h2c answering with chosen error codes: it stands in for an agent
// failing in ways a healthy real agent cannot be made to (the real agent is used in
// monitor.test.ts and sandboxes.vm.test.ts).
let server: ReturnType<typeof createServer>;
let address: string;
let nextError: ConnectError | undefined;
const sessions = new Set<ServerHttp2Session>();

beforeAll(async () => {
  const handler = connectNodeAdapter({
    routes: (router) =>
      router.service(HostAgentService, {
        pingSandbox: () => {
          if (nextError) throw nextError;
          return {};
        },
      }),
  });
  server = createServer(handler);
  // Clients keep their HTTP/2 sessions open: end them so close() returns.
  server.on("session", (session) => sessions.add(session));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const session of sessions) session.destroy();
  await new Promise((resolve) => server.close(resolve));
});

describe("HostClientPool", () => {
  it("creates one client per host lazily, and a new one when the address changes", () => {
    const pool = new HostClientPool();
    const a = pool.get({ id: "h1", address: "127.0.0.1:1" });
    expect(pool.get({ id: "h1", address: "127.0.0.1:1" })).toBe(a);
    expect(pool.get({ id: "h1", address: "127.0.0.1:2" })).not.toBe(a);
    pool.get({ id: "h2", address: "127.0.0.1:3" });
    expect(pool.size).toBe(2);
    pool.evict("h1");
    expect(pool.size).toBe(1);
    expect(() => pool.get({ id: "h3", address: "" })).toThrow(/not registered an address/);
  });

  it("talks h2c to an agent and maps its Connect errors through the one table", async () => {
    const client = new HostClientPool().get({ id: "h", address });
    nextError = undefined;
    await expect(callAgent("ping", () => client.pingSandbox({ sandboxId: "sb-x" }))).resolves.toBeDefined();
    const cases: [Code, string, string][] = [
      [Code.NotFound, "not_found", "sandbox sb-x not found"],
      [Code.FailedPrecondition, "failed_precondition", "sandbox is paused"],
      [Code.InvalidArgument, "invalid_argument", "bad name"],
      [Code.ResourceExhausted, "resource_exhausted", "no slots"],
      [Code.Internal, "internal", "host agent failed to ping"],
      [Code.Unavailable, "unavailable", "host agent unavailable while trying to ping"],
    ];
    for (const [code, wrenn, message] of cases) {
      nextError = new ConnectError(code === Code.Internal ? "secret stack detail" : message, code);
      const err = await callAgent("ping", () => client.pingSandbox({ sandboxId: "sb-x" })).catch((e) => e);
      expect(err.code, Code[code]).toBe(wrenn);
      expect(err.message).toBe(message);
    }
  });

  it("maps an agent that does not listen to unavailable", async () => {
    const client = new HostClientPool().get({ id: "down", address: `127.0.0.1:${await freePort()}` });
    const err = await callAgent("ping", () => client.pingSandbox({ sandboxId: "sb-x" })).catch((e) => e);
    expect(err.code).toBe("unavailable");
    expect(err.message).not.toMatch(/ECONNREFUSED/);
  });

  it("covers every Connect code", () => {
    for (const code of Object.values(Code).filter((v) => typeof v === "number")) {
      expect(errorCodeByConnectCode[code as Code], Code[code as Code]).toBeDefined();
      expect(ErrorCodes, Code[code as Code]).toContain(agentErrorCode(code as Code));
    }
    expect(agentError(new Error("boom"), "x").code).toBe("internal");
  });
});
