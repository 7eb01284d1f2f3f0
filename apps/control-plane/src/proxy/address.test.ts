import { describe, expect, it } from "vitest";
import { parseProxyAddress } from "./address.ts";

const uuid = "5d2e0c1a-9b7f-4c3e-8a21-0f6b2d4e8c10";
const wire = `sb-${uuid}`;

describe("parseProxyAddress", () => {
  it("reads the E2B headers", () => {
    expect(parseProxyAddress({ "e2b-sandbox-id": wire, "e2b-sandbox-port": "49983" }, undefined)).toEqual({
      sandboxId: uuid,
      wireId: wire,
      port: 49983,
    });
  });

  it("reads {port}-{sandboxId}.{domain} hosts, with or without a port and in any case", () => {
    const want = { sandboxId: uuid, wireId: wire, port: 8000 };
    expect(parseProxyAddress({ host: `8000-${wire}.sbx.example.com` }, "sbx.example.com")).toEqual(want);
    expect(
      parseProxyAddress({ host: `8000-${wire.toUpperCase()}.SBX.example.com:443` }, "sbx.example.com"),
    ).toEqual(want);
  });

  it("leaves API requests alone", () => {
    expect(parseProxyAddress({ host: "127.0.0.1:8080" }, undefined)).toBeNull();
    expect(parseProxyAddress({ host: "api.sbx.example.com" }, "sbx.example.com")).toBeNull();
    expect(parseProxyAddress({ host: `8000-${wire}.other.com` }, "sbx.example.com")).toBeNull();
    expect(parseProxyAddress({ host: `a.8000-${wire}.sbx.example.com` }, "sbx.example.com")).toBeNull();
    // Without a configured domain the Host form is off.
    expect(parseProxyAddress({ host: `8000-${wire}.sbx.example.com` }, undefined)).toBeNull();
  });

  it("rejects bad ports with invalid_argument naming where the port came from", () => {
    for (const port of ["0", "65536", "+80", "8e3", "", "http", "123456"]) {
      expect(() =>
        parseProxyAddress({ "e2b-sandbox-id": wire, "e2b-sandbox-port": port }, undefined),
      ).toThrow(expect.objectContaining({ code: "invalid_argument" }));
    }
    expect(() => parseProxyAddress({ host: `99999-${wire}.d.io` }, "d.io")).toThrow(/port in the host name/);
    expect(() => parseProxyAddress({ "e2b-sandbox-id": wire }, undefined)).toThrow(
      /E2b-Sandbox-Port is required/,
    );
    expect(() => parseProxyAddress({ "e2b-sandbox-port": "80" }, undefined)).toThrow(
      /E2b-Sandbox-Id is required/,
    );
  });

  it("answers not_found for a malformed sandbox id", () => {
    expect(() =>
      parseProxyAddress({ "e2b-sandbox-id": "sb-nope", "e2b-sandbox-port": "80" }, undefined),
    ).toThrow(expect.objectContaining({ code: "not_found" }));
    expect(() => parseProxyAddress({ host: "80-sb-bad_id.d.io" }, "d.io")).toThrow(
      expect.objectContaining({ code: "not_found" }),
    );
  });
});
