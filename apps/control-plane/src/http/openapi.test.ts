import { call, createTestApp, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.cleanup();
});

const expectedRoutes = [
  "post /v1/auth/signup",
  "post /v1/auth/login",
  "post /v1/auth/logout",
  "post /v1/auth/password",
  "post /v1/auth/switch-team",
  "get /v1/auth/oauth/{provider}",
  "get /v1/auth/oauth/{provider}/callback",
  "get /v1/me",
  "get /v1/api-keys",
  "post /v1/api-keys",
  "delete /v1/api-keys/{id}",
  "get /v1/teams",
  "post /v1/teams",
  "get /v1/teams/{id}",
  "patch /v1/teams/{id}",
  "delete /v1/teams/{id}",
  "get /v1/teams/{id}/members",
  "post /v1/teams/{id}/members",
  "patch /v1/teams/{id}/members/{userId}",
  "delete /v1/teams/{id}/members/{userId}",
  "post /v1/teams/{id}/leave",
  "get /v1/users/search",
  "get /v1/audit-logs",
  "put /v1/admin/teams/{id}/byoc",
  "post /v1/hosts",
  "get /v1/hosts",
  "post /v1/hosts/register",
  "post /v1/hosts/refresh",
  "post /v1/hosts/{id}/heartbeat",
  "get /v1/hosts/{id}",
  "post /v1/hosts/{id}/token",
  "post /v1/hosts/{id}/tags",
  "delete /v1/hosts/{id}/tags/{tag}",
  "delete /v1/hosts/{id}",
  "post /v1/sandboxes",
  "get /v1/sandboxes",
  "get /v1/sandboxes/{id}",
  "delete /v1/sandboxes/{id}",
  "post /v1/sandboxes/{id}/exec",
  "post /v1/sandboxes/{id}/fork",
  "post /v1/sandboxes/{id}/pause",
  "post /v1/sandboxes/{id}/resume",
  "post /v1/sandboxes/{id}/ping",
  "post /v1/sandboxes/{id}/files/write",
  "post /v1/sandboxes/{id}/files/read",
  "post /v1/sandboxes/{id}/files/list",
  "post /v1/sandboxes/{id}/files/mkdir",
  "post /v1/sandboxes/{id}/files/remove",
  "get /v1/sandboxes/{id}/metrics",
  "post /v1/sandboxes/{id}/files/stream/write",
  "post /v1/sandboxes/{id}/files/stream/read",
  "get /v1/sandboxes/{id}/processes",
  "get /v1/sandboxes/{id}/exec/stream",
  "post /v1/sandboxes/{id}/connect",
  "post /v1/sandboxes/{id}/timeout",
  "get /v1/sandboxes/{id}/processes/{process}/stream",
  "get /v1/sandboxes/{id}/pty",
  "delete /v1/sandboxes/{id}/processes/{process}",
  "post /v1/snapshots",
  "get /v1/snapshots",
  "get /v1/snapshots/{name}",
  "delete /v1/snapshots/{name}",
  "post /v1/builds",
  "get /v1/builds",
  "get /v1/builds/{id}",
  "post /v1/builds/{id}/cancel",
  "get /v1/builds/{id}/logs",
  "get /v1/builds/{id}/events",
  "post /v1/admin/builds",
  "get /v1/admin/builds",
  "get /v1/admin/builds/{id}",
  "post /v1/admin/builds/{id}/cancel",
  "get /v1/admin/builds/{id}/logs",
  "get /v1/admin/builds/{id}/events",
  "get /v1/channels/providers",
  "get /v1/channels",
  "post /v1/channels",
  "post /v1/channels/test",
  "get /v1/channels/{id}",
  "patch /v1/channels/{id}",
  "delete /v1/channels/{id}",
  "put /v1/channels/{id}/config",
  "put /v1/sandboxes/{id}/network",
  "post /v1/channels/{id}/test",
  "get /v1/channels/{id}/deliveries",
  "get /v1/admin/templates",
  "delete /v1/admin/templates/{name}",
  "post /v1/ws-tickets",
  "post /v1/port-tickets",
  "get /v1/sandboxes/stats",
  "get /v1/admin/hosts",
  "get /v1/admin/teams",
  "get /v1/admin/users",
  "put /v1/admin/users/{id}/admin",
  "get /v1/admin/audit-logs",
];

describe("OpenAPI", () => {
  it("serves an OpenAPI 3.1 document listing every route with its error responses", async () => {
    const res = await call(t.app, "GET", "/openapi.json");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    const ops: string[] = [];
    for (const [path, item] of Object.entries(res.body.paths as Record<string, Record<string, unknown>>)) {
      for (const [method, op] of Object.entries(item)) {
        ops.push(`${method} ${path}`);
        const responses = Object.keys((op as { responses: Record<string, unknown> }).responses);
        expect(responses, `${method} ${path}`).toContain("500");
        expect(
          responses.some((s) => s.startsWith("4")),
          `${method} ${path} documents a 4xx`,
        ).toBe(true);
      }
    }
    expect(ops.sort()).toEqual([...expectedRoutes].sort());
    expect(Object.keys(res.body.components.securitySchemes)).toEqual([
      "ApiKeyAuth",
      "BearerAuth",
      "HostToken",
    ]);
    expect(res.body.components.schemas.Error.properties.code.enum).toContain("invalid_argument");
  });

  it("serves the same document as YAML", async () => {
    const res = await call(t.app, "GET", "/openapi.yaml");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/yaml/);
    const doc = parse(res.body as string);
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toContain("/v1/me");
  });

  it("serves Swagger UI and its assets locally", async () => {
    const page = await call(t.app, "GET", "/docs");
    expect(page.status).toBe(200);
    expect(page.body).toContain("/docs/assets/swagger-ui-bundle.js");
    expect(page.body).not.toMatch(/https?:\/\//);
    const js = await t.app.request("/docs/assets/swagger-ui-bundle.js");
    expect(js.status).toBe(200);
    expect((await js.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
    expect((await t.app.request("/docs/assets/..%2Fpackage.json")).status).toBe(404);
  });

  it("answers /health", async () => {
    const res = await call(t.app, "GET", "/health");
    expect(res).toMatchObject({ status: 200, body: { status: "ok" } });
  });
});
