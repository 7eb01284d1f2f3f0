import { request as httpRequest } from "node:http";
import { apiFetch } from "@wrenn/testing/api";
import { startTestDeployment, type TestDeployment } from "@wrenn/testing/deployment";
import { wsEchoOnUpgrade } from "@wrenn/testing/guest-programs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";

// End to end: a real control plane, a registered host agent with netns networking
// (the agent's port proxy reaches guests through their namespace), a QEMU microVM
// running python3 and node servers, all reached through the control plane's port proxy.
const DOMAIN = "sbx.wrenn.test";
let d: TestDeployment;
let sandboxId: string;
let accessToken: string;
// last_active_at after the last exec, before any proxied request.
let activeAfterExec: string;

// A node server for what python's http.server cannot show: headers seen by the guest,
// a slowly streamed response, a streamed request body, and a WebSocket echo.
const NODE_SERVER = String.raw`
const http = require("http");
const crypto = require("crypto");
const s = http.createServer((req, res) => {
  if (req.url === "/stream") {
    res.writeHead(200, { "content-type": "text/plain" });
    let i = 0;
    const t = setInterval(() => { res.write("tick " + i + "\n"); if (++i === 3) { clearInterval(t); res.end(); } }, 1500);
    return;
  }
  if (req.url === "/echo") { res.writeHead(200); req.pipe(res); return; }
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ host: req.headers.host, apiKey: req.headers["x-api-key"] ?? null, accessToken: req.headers["x-access-token"] ?? null }));
});
${wsEchoOnUpgrade("s")}
s.listen(8001);
`;

function api(method: string, path: string, body?: unknown) {
  return apiFetch(d, method, path, body);
}

async function exec(cmd: string, background = false) {
  const res = await api("POST", `/v1/sandboxes/${sandboxId}/exec`, { cmd, background });
  const out = (await res.json()) as { exit_code: number | null; stdout: string; stderr: string };
  expect(res.status, JSON.stringify(out)).toBe(200);
  return out;
}

/** A request through the header form of the proxy. */
function viaHeaders(
  port: number | string,
  path: string,
  headers: Record<string, string>,
  init: RequestInit = {},
) {
  return fetch(`${d.url}${path}`, {
    ...init,
    headers: { "e2b-sandbox-id": sandboxId, "e2b-sandbox-port": String(port), ...headers },
  });
}

/** A GET with an explicit Host header (fetch cannot set Host). */
function viaHost(host: string, path: string, headers: Record<string, string>) {
  const url = new URL(d.url);
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path, headers: { ...headers, host } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

async function waitFor(port: number, path: string) {
  const deadline = Date.now() + 90_000;
  let last = "";
  while (Date.now() < deadline) {
    const res = await viaHeaders(port, path, { "x-api-key": d.apiKey });
    last = `${res.status} ${await res.text()}`;
    if (res.status === 200) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`port ${port} never answered through the proxy: ${last}`);
}

beforeAll(async () => {
  d = await startTestDeployment({ env: { WRENN_PROXY_DOMAIN: DOMAIN }, agentArgs: ["--network", "netns"] });
  const res = await api("POST", "/v1/sandboxes", { timeout_sec: 0 });
  const created = (await res.json()) as { id: string; envd_access_token: string };
  expect(res.status, JSON.stringify(created)).toBe(201);
  sandboxId = created.id;
  accessToken = created.envd_access_token;
  await exec("mkdir -p /tmp/www && echo hello-from-python > /tmp/www/index.html");
  await exec("cd /tmp/www && exec python3 -m http.server 8000", true);
  await exec(`cat > /tmp/srv.js <<'EOF'\n${NODE_SERVER}\nEOF`);
  await exec("exec node /tmp/srv.js", true);
  activeAfterExec = (
    (await (await api("GET", `/v1/sandboxes/${sandboxId}`)).json()) as { last_active_at: string }
  ).last_active_at;
  await waitFor(8000, "/index.html");
  await waitFor(8001, "/");
}, 300_000);

afterAll(async () => {
  await d?.close();
});

describe("port proxy", () => {
  it("forwards by the E2b-Sandbox-Id/Port headers with the team's API key", async () => {
    const res = await viaHeaders(8000, "/index.html", { "x-api-key": d.apiKey });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("hello-from-python\n");
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });

  it("forwards by the {port}-{sandboxId}.{domain} host with the envd access token", async () => {
    const res = await viaHost(`8000-${sandboxId}.${DOMAIN}`, "/index.html", {
      "x-access-token": accessToken,
    });
    expect(res).toEqual({ status: 200, body: "hello-from-python\n" });
    // The guest sees the original host, but never the team's API key nor (off envd) the access token.
    const seen = await viaHost(`8001-${sandboxId}.${DOMAIN}:${new URL(d.url).port}`, "/", {
      "x-api-key": d.apiKey,
      "x-access-token": accessToken,
    });
    expect(seen.status).toBe(200);
    expect(JSON.parse(seen.body)).toEqual({
      host: `8001-${sandboxId}.${DOMAIN}:${new URL(d.url).port}`,
      apiKey: null,
      accessToken: null,
    });
  });

  it("reaches envd itself on port 49983", async () => {
    const res = await viaHeaders(49983, "/health", { "x-access-token": accessToken });
    expect(res.status).toBeLessThan(300);
  });

  it("streams responses chunk by chunk and request bodies through", async () => {
    const res = await viaHeaders(8001, "/stream", { "x-api-key": d.apiKey });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    // Buffering would deliver all three ticks at once, after the last one.
    expect(first).toBe("tick 0\n");
    let rest = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toBe("tick 1\ntick 2\n");

    const payload = "x".repeat(300_000);
    const echoed = await viaHeaders(
      8001,
      "/echo",
      { "x-api-key": d.apiKey },
      { method: "POST", body: payload },
    );
    expect(echoed.status).toBe(200);
    expect(await echoed.text()).toBe(payload);
  });

  it("passes WebSocket upgrades through", async () => {
    const ws = new WebSocket(`${d.url.replace("http", "ws")}/chat`, {
      headers: { "e2b-sandbox-id": sandboxId, "e2b-sandbox-port": "8001", "x-api-key": d.apiKey },
    });
    const reply = await new Promise<string>((resolve, reject) => {
      ws.once("open", () => ws.send("hi there"));
      ws.once("message", (data) => resolve(String(data)));
      ws.once("error", reject);
    });
    expect(reply).toBe("echo:hi there");
    ws.close();

    // A refused upgrade is a plain HTTP error.
    const denied = new WebSocket(`${d.url.replace("http", "ws")}/chat`, {
      headers: { "e2b-sandbox-id": sandboxId, "e2b-sandbox-port": "8001" },
    });
    const status = await new Promise<number>((resolve) => {
      denied.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      denied.once("error", () => resolve(-1));
    });
    expect(status).toBe(401);
  });

  it("answers 401 without a valid credential, 404 for other teams and unknown sandboxes, 400 for bad ports", async () => {
    const none = await viaHeaders(8000, "/", {});
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ code: "unauthenticated" });
    expect((await viaHeaders(8000, "/", { "x-api-key": "wrn_not-a-key" })).status).toBe(401);
    expect((await viaHeaders(8000, "/", { "x-access-token": "wrong" })).status).toBe(401);
    expect((await viaHost(`8000-${sandboxId}.${DOMAIN}`, "/", { "x-access-token": "wrong" })).status).toBe(
      401,
    );

    const other = await d.newTeam("Other");
    const foreign = await viaHeaders(8000, "/", { "x-api-key": other.apiKey });
    expect(foreign.status).toBe(404);
    expect(await foreign.json()).toMatchObject({ code: "not_found" });
    const unknown = await fetch(`${d.url}/`, {
      headers: {
        "e2b-sandbox-id": "sb-00000000-0000-4000-8000-000000000000",
        "e2b-sandbox-port": "8000",
        "x-api-key": d.apiKey,
      },
    });
    expect(unknown.status).toBe(404);

    for (const port of ["0", "70000", "http"]) {
      const bad = await viaHeaders(port, "/", { "x-api-key": d.apiKey });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ code: "invalid_argument", message: /E2b-Sandbox-Port/ });
    }
    expect((await viaHost(`0-${sandboxId}.${DOMAIN}`, "/", { "x-api-key": d.apiKey })).status).toBe(400);
  });

  it("passes the agent's 502 through when nothing listens on the port", async () => {
    const res = await viaHeaders(8999, "/", { "x-api-key": d.apiKey });
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({
      code: "unavailable",
      message: /nothing is listening on port 8999/,
    });
  });

  it("counts proxied traffic as activity", async () => {
    // The first proxied request of an interval (in beforeAll) wrote last_active_at; later
    // ones only reset the agent's inactivity timer, so there is no database write per request.
    const deadline = Date.now() + 5000;
    let after = activeAfterExec;
    while (after === activeAfterExec && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      after = ((await (await api("GET", `/v1/sandboxes/${sandboxId}`)).json()) as { last_active_at: string })
        .last_active_at;
    }
    expect(new Date(after).getTime()).toBeGreaterThan(new Date(activeAfterExec).getTime());
  });

  it("answers E2B's 502 not-running body while the sandbox is paused and works again after resume", async () => {
    // Warm the cache, then pause: the cached route must be dropped at once.
    expect((await viaHeaders(8000, "/index.html", { "x-api-key": d.apiKey })).status).toBe(200);
    const paused = await api("POST", `/v1/sandboxes/${sandboxId}/pause`);
    expect(paused.status, await paused.text()).toBe(200);
    // The e2b SDK reads only 502 as "not running" (isRunning() false), on both routings.
    const notRunning = {
      sandboxId,
      code: 502,
      message: "The sandbox is paused: connect to or resume it to reach its ports",
    };
    const res = await viaHeaders(8000, "/index.html", { "x-access-token": accessToken });
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual(notRunning);
    const bySubdomain = await viaHost(`8000-${sandboxId}.${DOMAIN}`, "/index.html", {
      "x-api-key": d.apiKey,
    });
    expect(bySubdomain.status).toBe(502);
    expect(JSON.parse(bySubdomain.body)).toEqual(notRunning);

    const resumed = await api("POST", `/v1/sandboxes/${sandboxId}/resume`);
    expect(resumed.status, await resumed.text()).toBe(200);
    await waitFor(8000, "/index.html");
    const again = await viaHeaders(8000, "/index.html", { "x-access-token": accessToken });
    expect(await again.text()).toBe("hello-from-python\n");
  }, 180_000);
});
