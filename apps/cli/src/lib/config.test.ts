import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ExitCode } from "../exit-codes.ts";
import { configPath, readConfig, resolveCredentials, writeConfig } from "./config.ts";
import { CliError } from "./errors.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempHome() {
  const d = await mkdtemp(join(tmpdir(), "wrenn-cli-config-"));
  dirs.push(d);
  return d;
}

describe("config store", () => {
  it("lives under HOME/.config unless XDG_CONFIG_HOME is set", () => {
    expect(configPath({ HOME: "/home/a" })).toBe("/home/a/.config/wrenn/config.json");
    expect(configPath({ HOME: "/home/a", XDG_CONFIG_HOME: "/x" })).toBe("/x/wrenn/config.json");
  });

  it("writes 0600 in a 0700 directory and reads it back", async () => {
    const path = configPath({ HOME: await tempHome() });
    expect(await readConfig(path)).toEqual({});
    await writeConfig({ apiUrl: "http://a:1", apiKey: "wrn_x" }, path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(path))).mode & 0o777).toBe(0o700);
    expect(await readConfig(path)).toEqual({ apiUrl: "http://a:1", apiKey: "wrn_x" });
    expect(JSON.parse(await readFile(path, "utf8"))).toEqual({ apiUrl: "http://a:1", apiKey: "wrn_x" });
  });

  it("tightens an existing world-readable file on rewrite", async () => {
    const path = configPath({ HOME: await tempHome() });
    await writeConfig({ apiKey: "wrn_1" }, path);
    await writeFile(path, "{}", { mode: 0o644 });
    await writeConfig({ apiKey: "wrn_2" }, path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("names a corrupt file", async () => {
    const path = configPath({ HOME: await tempHome() });
    await writeConfig({}, path);
    await writeFile(path, "{not json");
    await expect(readConfig(path)).rejects.toThrow(`${path} is not valid JSON`);
  });
});

describe("resolveCredentials", () => {
  const stored = { apiUrl: "http://saved:1/", apiKey: "wrn_saved" };

  it("uses the saved config when nothing overrides it", () => {
    expect(resolveCredentials(stored, {}, {})).toEqual({
      apiUrl: "http://saved:1",
      apiKey: "wrn_saved",
      source: { apiUrl: "config", apiKey: "config" },
    });
  });

  it("lets the environment override the config and flags override both", () => {
    const env = { WRENN_API_URL: "http://env:2", WRENN_API_KEY: "wrn_env" };
    expect(resolveCredentials(stored, {}, env)).toMatchObject({ apiUrl: "http://env:2", apiKey: "wrn_env" });
    expect(resolveCredentials(stored, { apiUrl: "http://flag:3", apiKey: "wrn_flag" }, env)).toMatchObject({
      apiUrl: "http://flag:3",
      apiKey: "wrn_flag",
      source: { apiUrl: "flag", apiKey: "flag" },
    });
  });

  it("defaults the URL to localhost:8080", () => {
    expect(resolveCredentials({ apiKey: "k" }, {}, {}).apiUrl).toBe("http://localhost:8080");
  });

  it("without any key is 'not logged in', exit code 4", () => {
    let caught: unknown;
    try {
      resolveCredentials({}, {}, {});
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CliError);
    expect((caught as CliError).exitCode).toBe(ExitCode.unauthenticated);
    expect((caught as CliError).message).toMatch(/^not logged in: run 'wrenn login'/);
  });

  it("rejects a URL that is not http(s) as a usage error", () => {
    expect(() => resolveCredentials({ apiKey: "k", apiUrl: "ftp://x" }, {}, {})).toThrow(
      /must start with http/,
    );
    expect(() => resolveCredentials({ apiKey: "k", apiUrl: "nope" }, {}, {})).toThrow(/is not a URL/);
  });
});
