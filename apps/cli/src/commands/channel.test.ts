import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { generateEncryptionKey } from "@wrenn/control-plane";
import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { type Receiver, startReceiver } from "@wrenn/testing/receiver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, spawnCli } from "../spawn-cli.ts";

// `wrenn channel` against a real control plane (PostgreSQL, Redis) served on loopback. The
// receiver below stands in for a team's webhook endpoint (external services are unreachable here).

let t: TestApp;
let server: ReturnType<typeof serve>;
let apiUrl: string;
let apiKey: string;
let receiver: Receiver;
const SECRET = "cli-signing-secret-0123";

function runCli(args: string[], stdin?: string): Promise<CliRun> {
  return spawnCli(["channel", ...args], {
    env: { ...process.env, WRENN_API_URL: apiUrl, WRENN_API_KEY: apiKey, NO_COLOR: "1" },
    stdin: stdin ?? "",
  });
}

beforeAll(async () => {
  t = await createTestApp({
    env: { WRENN_ENCRYPTION_KEY: generateEncryptionKey(), WRENN_CHANNELS_ALLOW_PRIVATE: "127.0.0.1/32" },
  });
  server = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((r) => server.once("listening", r));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receiver = await startReceiver({
    respond: (req, res) => {
      res.writeHead(req.path.includes("broken") ? 500 : 204);
      res.end();
    },
  });
  const owner = await signupUser(t.app);
  apiKey = (await call(t.app, "POST", "/v1/api-keys", { token: owner.token, body: { name: "cli" } })).body
    .key;
}, 60_000);

afterAll(async () => {
  server?.close();
  await receiver?.close();
  await t?.cleanup();
});

describe("wrenn channel", () => {
  it("adds (after a delivered test message), lists, tests, rotates and deletes a channel", async () => {
    const config = JSON.stringify({ url: `${receiver.url}/hook`, secret: SECRET });
    const added = await runCli(
      [
        "add",
        "ops",
        "--provider",
        "webhook",
        "--config-file",
        "-",
        "--events",
        "sandbox.auto_paused,host.unreachable",
        "--json",
      ],
      config,
    );
    expect(added.code, added.err).toBe(0);
    const channel = JSON.parse(added.out);
    expect(channel).toMatchObject({
      name: "ops",
      provider: "webhook",
      events: ["sandbox.auto_paused", "host.unreachable"],
    });
    expect(added.out).not.toContain(SECRET);
    // The test message went out before saving.
    expect(receiver.requests.filter((r) => r.path === "/hook")).toHaveLength(1);

    const listed = await runCli(["list"]);
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(/NAME +ID +PROVIDER/);
    expect(listed.out).toContain(channel.id);

    const tested = await runCli(["test", channel.id]);
    expect(tested.code, tested.err).toBe(0);
    expect(tested.out).toContain("Test message delivered");

    const rotated = await runCli(["rotate", channel.id, "--set", `url=${receiver.url}/broken`]);
    expect(rotated.code, rotated.err).toBe(0);
    const failing = await runCli(["test", channel.id, "--json"]);
    expect(failing.code).toBe(1);
    expect(JSON.parse(failing.out)).toEqual({ ok: false, error: "Webhook answered HTTP 500" });

    const deleted = await runCli(["delete", channel.id]);
    expect(deleted.code).toBe(0);
    expect((await runCli(["list", "--json"])).out.trim()).toBe("[]");
  }, 60_000);

  it("does not save a channel whose test message fails, and reports bad input as usage errors", async () => {
    const refused = await runCli([
      "add",
      "bad",
      "--provider",
      "webhook",
      "--set",
      `url=${receiver.url}/broken`,
      "--set",
      `secret=${SECRET}`,
    ]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("test message not delivered: Webhook answered HTTP 500 (nothing saved");
    expect((await runCli(["list", "--json"])).out.trim()).toBe("[]");
    const noProvider = await runCli(["add", "x", "--set", "a=b"]);
    expect(noProvider.code).toBe(2);
    expect(noProvider.err).toContain("missing --provider");
  }, 60_000);
});
