import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import {
  call,
  createTestApp,
  insertOnlineHost,
  insertSandbox,
  signupUser,
  type TestApp,
} from "@wrenn/testing/app";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateEncryptionKey } from "../crypto/secret-box.ts";

// Robustness suite: every route of the app (the OpenAPI document's, for their body fields and query
// parameters, plus the /e2b ones from the router), thousands of malformed requests over a real
// loopback socket with keep-alive. Fails on any 500-class answer except 503 `unavailable` (the one
// host's agent is not listening, so routes that need it are honestly unavailable), on a request the
// server never answers, and if the server stops answering. Prints the counts.
let t: TestApp;
let server: ReturnType<typeof serve>;
let base: string;
let token: string;
let apiKey: string;
/** Real resources of the caller (and another user) by the path segment that names their kind. */
let realIds: Record<string, string>;
beforeAll(async () => {
  t = await createTestApp({ env: { WRENN_ENCRYPTION_KEY: generateEncryptionKey() } });
  server = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.once("listening", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const u = await signupUser(t.app);
  // An admin, so the admin routes' inputs are reached too.
  await t.db.db.execute(sql`UPDATE users SET is_admin = true WHERE id = ${u.user.id.slice("usr-".length)}`);
  token = u.token;
  apiKey = (await call(t.app, "POST", "/v1/api-keys", { token, body: { name: "fuzz" } })).body.key;
  // Resources the fuzz may change or delete without ending the run: a second key, a second team
  // with another member, a sandbox row on a host whose agent is not listening.
  const spareKey = await call(t.app, "POST", "/v1/api-keys", { token, body: { name: "spare" } });
  const team = await call(t.app, "POST", "/v1/teams", { token, body: { name: "Fuzz" } });
  const other = await signupUser(t.app);
  await call(t.app, "POST", `/v1/teams/${team.body.id}/members`, {
    token,
    body: { email: other.user.email, role: "member" },
  });
  const hostId = await insertOnlineHost(t, "127.0.0.1:9");
  const sandboxId = await insertSandbox(t, {
    teamId: u.team.id.slice("team-".length),
    hostId,
    state: "running",
  });
  realIds = {
    "api-keys": spareKey.body.id,
    teams: team.body.id,
    users: other.user.id,
    userId: other.user.id,
    hosts: `host-${hostId}`,
    sandboxes: `sb-${sandboxId}`,
    snapshots: "minimal",
    templates: "minimal",
    tags: "gpu",
    processes: "1",
    oauth: "github",
  };
});
afterAll(async () => {
  if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  await t?.cleanup();
});

const NUL = "\u0000";
const strings = [NUL, "a\u0001b", "x".repeat(5000), "../../etc/passwd", "%00", "😀", "' OR 1=1 --", "", " "];
const values: unknown[] = [
  ...strings,
  -1,
  0,
  1e308,
  Number.MAX_SAFE_INTEGER + 2,
  1.5,
  true,
  null,
  [],
  {},
  [NUL],
  { [NUL]: NUL },
];
const junkIds = ["x", NUL, "sb-00000000-0000-0000-0000-000000000000", "team-zzz", "%2e%2e", "1".repeat(300)];
/** Each query parameter gets each of these alone (a NUL beside them would stop them at the boundary). */
const queryValues = [
  NUL,
  "9".repeat(40),
  "-1",
  "0",
  "1.5",
  "abc",
  "",
  "2026-13-45T99:99:99Z",
  "x".repeat(3000),
  "%",
  "k=v=w",
  "true",
  "sb-00000000-0000-0000-0000-000000000000",
];

/** Malformed bodies for an operation: wrong shapes, every field set to each odd value, raw junk. */
function bodies(fields: string[]): (string | object)[] {
  const out: (string | object)[] = ["{", "null", "[]", '"s"', "1", `{"a":${"[".repeat(100)}`, "\u0000"];
  for (const v of values) out.push(Object.fromEntries(fields.map((f) => [f, v])));
  for (const f of fields) for (const v of values) out.push({ [f]: v });
  for (const v of values.slice(0, 6))
    out.push({ ...Object.fromEntries(fields.map((f) => [f, "a"])), extra_field: v });
  return out;
}

type Operation = { method: string; path: string; fields: string[]; queries: string[]; userOnly: boolean };
type OpenApiOperation = {
  requestBody?: { content?: Record<string, { schema?: { properties?: object } }> };
  parameters?: { in: string; name: string }[];
  security?: Record<string, unknown>[];
};

/** The document's operations, then every other /v1 and /e2b route of the router (no field list). */
function operations(doc: { paths: Record<string, Record<string, OpenApiOperation>> }): Operation[] {
  const ops: Operation[] = [];
  const seen = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const content = op.requestBody?.content;
      const fields = new Set(
        Object.values(content ?? {}).flatMap((c) => Object.keys(c.schema?.properties ?? {})),
      );
      ops.push({
        method: method.toUpperCase(),
        path,
        fields: fields.size ? [...fields] : ["name"],
        queries: (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name),
        userOnly: !op.security?.some((s) => "ApiKeyAuth" in s),
      });
      seen.add(`${method.toUpperCase()} ${path}`);
    }
  }
  const e2bFields = ["templateID", "timeout", "metadata", "envVars", "autoPause", "secure", "name", "alias"];
  for (const r of t.app.routes) {
    if (r.method === "ALL" || !/^\/(v1|e2b)\//.test(r.path)) continue;
    const path = r.path.replace(/:([A-Za-z]+)/g, "{$1}");
    if (seen.has(`${r.method} ${path}`)) continue;
    seen.add(`${r.method} ${path}`);
    ops.push({
      method: r.method,
      path,
      fields: e2bFields,
      queries: ["metadata", "limit", "nextToken", "state", "start", "end", "order", "startedAfter"],
      userOnly: false,
    });
  }
  // Deletions last, so the resources the other operations address live as long as possible.
  return ops.sort((a, b) => Number(a.method === "DELETE") - Number(b.method === "DELETE"));
}

/** The concrete paths of an operation: each id in every path parameter (one path when it has none). */
function junkPaths(template: string): string[] {
  return [...new Set(junkIds.map((id) => template.replace(/\{[^}]+\}/g, encodeURIComponent(id))))];
}

/** The operation's path with a real id of the right kind in each parameter (junk where none fits). */
function realPath(template: string): string {
  return template.replace(/([^/]+)\/\{([^}]+)\}/g, (_m, segment: string, param: string) => {
    const id = realIds[param] ?? realIds[segment] ?? "x";
    return `${segment}/${encodeURIComponent(id)}`;
  });
}

describe("fuzz over every route", () => {
  it("never answers 5xx (but 503 unavailable), answers every request, keeps answering", {
    // ~40 s alone; several times that when the unit pass runs files in parallel on two cores.
    timeout: 600_000,
  }, async () => {
    const doc = (await call(t.app, "GET", "/openapi.json")).body;
    const ops = operations(doc);
    const counts = new Map<number | "no answer", number>();
    const failures: string[] = [];
    let sent = 0;
    const send = async (
      method: string,
      path: string,
      body: unknown,
      auth: "jwt" | "key" | "none",
      contentType = "application/json",
    ) => {
      const headers: Record<string, string> = {};
      if (body !== undefined && contentType) headers["content-type"] = contentType;
      if (auth === "jwt") headers.authorization = `Bearer ${token}`;
      if (auth === "key") headers["x-api-key"] = apiKey;
      let status: number | "no answer";
      let answer = "";
      try {
        const res = await fetch(`${base}${path}`, {
          method,
          headers,
          body:
            body === undefined || body instanceof FormData
              ? body
              : typeof body !== "string"
                ? JSON.stringify(body)
                : contentType
                  ? body
                  : new TextEncoder().encode(body), // bytes: fetch adds no content type
          signal: AbortSignal.timeout(20_000),
        });
        status = res.status;
        answer = await res.text();
      } catch (err) {
        status = "no answer";
        answer = String(err);
      }
      sent++;
      counts.set(status, (counts.get(status) ?? 0) + 1);
      const unavailable = status === 503 && /"code":("unavailable"|503)/.test(answer);
      if ((status === "no answer" || status >= 500) && !unavailable && failures.length < 20)
        failures.push(`${method} ${path.slice(0, 200)} → ${status} ${answer.slice(0, 300)}`);
    };
    for (const op of ops) {
      // Destructive operations on the caller's own account would end the run early.
      if (/\/auth\/(logout|password)$/.test(op.path)) continue;
      const credential = op.userOnly ? "jwt" : "key";
      // Junk ids: every credential, no body, junk in the query.
      for (const path of junkPaths(op.path)) {
        const queryJunk = op.queries.map((q) => `${q}=${encodeURIComponent(NUL)}`).join("&");
        for (const auth of ["jwt", "key", "none"] as const)
          await send(op.method, `${path}${queryJunk ? `?${queryJunk}` : ""}`, undefined, auth);
      }
      {
        const path = realPath(op.path);
        // Each query parameter alone with each odd value, so the route itself parses it.
        for (const q of op.queries)
          for (const v of queryValues)
            await send(op.method, `${path}?${q}=${encodeURIComponent(v)}`, undefined, credential);
        if (op.method === "GET" || op.method === "DELETE") continue;
        for (const body of bodies(op.fields)) await send(op.method, path, body, credential);
        // The same text under other declared types: routes that parse JSON whatever the header says.
        const odd = JSON.stringify(Object.fromEntries(op.fields.map((f) => [f, `a${NUL}`])));
        for (const type of ["text/plain", "", "application/x-www-form-urlencoded"])
          await send(op.method, path, odd, credential, type);
        const form = new FormData();
        for (const f of op.fields) form.set(f, f === "spec" ? odd : `a${NUL}`);
        await send(op.method, path, form, credential, "");
      }
    }
    // Still alive and still itself.
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect((await call(t.app, "GET", "/v1/me", { token })).status).toBe(200);
    const summary = [...counts.entries()].map(([s, n]) => `${s}:${n}`).sort();
    console.log(`fuzz: ${ops.length} routes, ${sent} requests, statuses ${summary.join(" ")}`);
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(8_000);
  });
});
