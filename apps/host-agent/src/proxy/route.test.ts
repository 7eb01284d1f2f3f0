import { describe, expect, it } from "vitest";
import { isProxyPath, parseProxyRoute } from "./route.ts";

describe("parseProxyRoute", () => {
  it("splits sandbox id, port and the forwarded path", () => {
    expect(parseProxyRoute("/proxy/sb-1/8080/api/x?y=1&z=%2F")).toEqual({
      sandboxId: "sb-1",
      port: 8080,
      upstreamPath: "/api/x?y=1&z=%2F",
    });
    expect(parseProxyRoute("/proxy/sb/1").upstreamPath).toBe("/");
    expect(parseProxyRoute("/proxy/sb/65535/").upstreamPath).toBe("/");
    expect(parseProxyRoute("/proxy/sb/3000?q=1").upstreamPath).toBe("/?q=1");
  });

  it.each(["0", "65536", "-1", "80.5", "abc", "", "0x50", "1e3", "099999"])("rejects port %j", (port) => {
    expect(() => parseProxyRoute(`/proxy/sb/${port}/`)).toThrow(
      expect.objectContaining({
        code: "invalid_argument",
        message: "port must be an integer between 1 and 65535",
      }),
    );
  });

  it.each(["/proxy/", "/proxy/sb", "/proxy/../80/", "/proxy/%2e%2e/80/", "/proxy/a b/80/"])(
    "rejects malformed target %j",
    (url) => {
      expect(() => parseProxyRoute(url)).toThrow(expect.objectContaining({ code: "invalid_argument" }));
    },
  );

  it("recognises proxy paths", () => {
    expect(isProxyPath("/proxy/x/1/")).toBe(true);
    expect(isProxyPath("/hostagent.v1.HostAgentService/Ping")).toBe(false);
    expect(isProxyPath(undefined)).toBe(false);
  });
});
