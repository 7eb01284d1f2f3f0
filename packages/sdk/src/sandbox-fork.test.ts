import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { FailedPreconditionError } from "./errors.ts";
import { Sandbox } from "./sandbox.ts";

// Sandbox.fork against a loopback server standing in for the control plane: what it sends and
// how it reads the answer (the forks on real microVMs: control plane e2b-fork.vm.test.ts).
let server: Server;
let url: string;
const seen: { url?: string; key?: string; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      seen.push({ url: req.url, key: req.headers["x-api-key"] as string, body });
      res.setHeader("content-type", "application/json");
      if (req.url?.includes("/sb-paused/")) {
        res.writeHead(409);
        res.end(
          JSON.stringify({ code: "failed_precondition", message: "cannot fork a sandbox that is paused" }),
        );
        return;
      }
      res.writeHead(201);
      res.end(
        JSON.stringify({
          sandboxes: [
            { id: "sb-a", state: "running", envd_access_token: "tok-a" },
            { id: "sb-b", state: "running", envd_access_token: "tok-b" },
          ],
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

test("sends count, the timeout in seconds and metadata; answers one Sandbox per fork with its token", async () => {
  const forks = await Sandbox.fork("sb-src", {
    apiKey: "wrn_test",
    apiUrl: url,
    count: 2,
    timeoutMs: 1500,
    metadata: { run: "7" },
  });
  expect(forks.map((f) => [f.sandboxId, f.envdAccessToken])).toEqual([
    ["sb-a", "tok-a"],
    ["sb-b", "tok-b"],
  ]);
  const req = seen.at(-1);
  expect(req?.url).toBe("/v1/sandboxes/sb-src/fork");
  expect(req?.key).toBe("wrn_test");
  expect(JSON.parse(req?.body ?? "")).toEqual({ count: 2, timeout_sec: 2, metadata: { run: "7" } });
});

test("a source that is not running is a FailedPreconditionError", async () => {
  await expect(Sandbox.fork("sb-paused", { apiKey: "wrn_test", apiUrl: url })).rejects.toBeInstanceOf(
    FailedPreconditionError,
  );
});
