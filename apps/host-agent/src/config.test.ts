import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

  it("takes the token from a file or the environment, the rest from flags or the environment", async () => {
    const dir = await mkdtemp(join(tmpdir(), "agent-config-"));
    try {
      await writeFile(join(dir, "token"), "wrh_file\n", { mode: 0o600 });
      const fromFile = loadConfig(
        [
          "--registration-token-file",
          join(dir, "token"),
          "--address",
          "10.0.0.5:5007",
          "--control-plane",
          "http://cp:8080",
        ],
        { WRENN_REGISTRATION_TOKEN: "wrh_env_loses" },
      );
      expect(fromFile.controlPlane).toEqual({
        url: "http://cp:8080",
        registrationToken: "wrh_file",
        address: "10.0.0.5:5007",
      });
      expect(() => loadConfig(["--registration-token-file", join(dir, "missing")], {})).toThrow(
        /cannot read the registration token file/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const fromEnv = loadConfig([], {
      WRENN_REGISTRATION_TOKEN: "wrh_env",
      WRENN_AGENT_ADDRESS: "127.0.0.1:5007",
      WRENN_CP_URL: "http://localhost:8080",
    });
    expect(fromEnv.controlPlane.registrationToken).toBe("wrh_env");
    expect(fromEnv.controlPlane.address).toBe("127.0.0.1:5007");
  });

  it("refuses the token as a flag value, which every local user could read in ps", () => {
    expect(() => loadConfig(["--register", "wrh_abc"], {})).toThrow(/WRENN_REGISTRATION_TOKEN/);
  });

  it("rejects a token without the URL or address it needs, and a malformed address", () => {
    const token = { WRENN_REGISTRATION_TOKEN: "wrh_abc" };
    expect(() => loadConfig(["--address", "10.0.0.5:5007"], token)).toThrow(/--control-plane/);
    expect(() => loadConfig(["--control-plane", "http://cp"], token)).toThrow(/--address/);
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

describe("loadConfig: fork background save", () => {
  it("stops the source for the save by default, saves in the background with 1, and rejects junk", () => {
    expect(loadConfig([], {}).forkBackgroundSave).toBe(false);
    expect(loadConfig([], { WRENN_FORK_BACKGROUND_SAVE: "0" }).forkBackgroundSave).toBe(false);
    expect(loadConfig([], { WRENN_FORK_BACKGROUND_SAVE: "1" }).forkBackgroundSave).toBe(true);
    expect(() => loadConfig([], { WRENN_FORK_BACKGROUND_SAVE: "yes" })).toThrow(/WRENN_FORK_BACKGROUND_SAVE/);
  });
});
