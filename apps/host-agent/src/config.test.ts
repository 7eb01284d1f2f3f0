import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.ts";

describe("loadConfig: control plane link", () => {
  it("runs standalone when nothing is given", () => {
    expect(loadConfig([], {}).controlPlane).toEqual({
      url: undefined,
      registrationToken: undefined,
      address: undefined,
    });
  });

  it("takes the registration from flags, then from the environment", () => {
    const fromFlags = loadConfig(
      ["--register", "wrh_abc", "--address", "10.0.0.5:5007", "--control-plane", "http://cp:8080"],
      {},
    );
    expect(fromFlags.controlPlane).toEqual({
      url: "http://cp:8080",
      registrationToken: "wrh_abc",
      address: "10.0.0.5:5007",
    });
    const fromEnv = loadConfig([], {
      WRENN_REGISTRATION_TOKEN: "wrh_env",
      WRENN_AGENT_ADDRESS: "127.0.0.1:5007",
      WRENN_CP_URL: "http://localhost:8080",
    });
    expect(fromEnv.controlPlane.registrationToken).toBe("wrh_env");
    expect(fromEnv.controlPlane.address).toBe("127.0.0.1:5007");
  });

  it("rejects a token without the URL or address it needs, and a malformed address", () => {
    expect(() => loadConfig(["--register", "wrh_abc", "--address", "10.0.0.5:5007"], {})).toThrow(
      /--control-plane/,
    );
    expect(() => loadConfig(["--register", "wrh_abc", "--control-plane", "http://cp"], {})).toThrow(
      /--address/,
    );
    expect(() => loadConfig(["--address", "no-port"], {})).toThrow(/--address must look like/);
  });

  it("rejects unknown flags", () => {
    expect(() => loadConfig(["--bogus"], {})).toThrow(/Unknown option .--bogus.*flags: --listen/);
  });
});

describe("loadConfig: warm networks", () => {
  it("keeps one network ahead by default, none with 0, and rejects a negative count", () => {
    expect(loadConfig([], {}).warmNetworks).toBe(1);
    expect(loadConfig([], { WRENN_WARM_NETWORKS: "0" }).warmNetworks).toBe(0);
    expect(loadConfig([], { WRENN_WARM_NETWORKS: "3" }).warmNetworks).toBe(3);
    expect(() => loadConfig([], { WRENN_WARM_NETWORKS: "-1" })).toThrow(
      /WRENN_WARM_NETWORKS must be an integer/,
    );
  });
});
