import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { isE2bApiHost, rewriteE2bApiHost, withE2bApiHost } from "./api-host.ts";

const req = (host: string | undefined, url: string) => ({ headers: { host }, url }) as IncomingMessage;

describe("E2B's API host (api.{domain})", () => {
  it("recognises api.{domain} with or without a port or trailing dot, nothing else", () => {
    expect(isE2bApiHost("api.sbx.example.com", "sbx.example.com")).toBe(true);
    expect(isE2bApiHost("API.sbx.example.com:443", "sbx.example.com")).toBe(true);
    expect(isE2bApiHost("api.sbx.example.com.", "sbx.example.com")).toBe(true);
    expect(isE2bApiHost("49983-sb-1.sbx.example.com", "sbx.example.com")).toBe(false);
    expect(isE2bApiHost("x.api.sbx.example.com", "sbx.example.com")).toBe(false);
    expect(isE2bApiHost("api.sbx.example.com", undefined)).toBe(false);
    expect(isE2bApiHost(undefined, "sbx.example.com")).toBe(false);
  });

  it("serves E2B's root paths from /e2b there and leaves every other request alone", () => {
    const cases: [string | undefined, string, string][] = [
      ["api.d.test", "/sandboxes?limit=1", "/e2b/sandboxes?limit=1"],
      ["api.d.test", "/v2/sandboxes", "/e2b/v2/sandboxes"],
      ["api.d.test", "/e2b/sandboxes", "/e2b/sandboxes"],
      ["api.d.test", "/e2b", "/e2b"],
      ["api.d.test", "/e2bx", "/e2b/e2bx"],
      ["localhost:8080", "/v1/sandboxes", "/v1/sandboxes"],
      ["49983-sb-1.d.test", "/files", "/files"],
    ];
    for (const [host, url, expected] of cases) {
      const r = req(host, url);
      rewriteE2bApiHost(r, "d.test");
      expect(r.url).toBe(expected);
    }
    const seen: string[] = [];
    const listener = withE2bApiHost("d.test", (r) => void seen.push(r.url ?? ""));
    listener(req("api.d.test", "/sandboxes"), {} as never);
    expect(seen).toEqual(["/e2b/sandboxes"]);
    const plain = () => {};
    expect(withE2bApiHost(undefined, plain)).toBe(plain);
  });
});
