import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { agentArgs } from "./host.ts";

const cli = fileURLToPath(new URL("../main.ts", import.meta.url));

function runCli(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", cli, ...args], { stdio: "pipe" });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, out })));
}

describe("wrenn host", () => {
  it("register passes the token file, address and control plane to the agent and listens on the address' port", () => {
    expect(
      agentArgs(
        "register",
        {
          "token-file": "/root/token",
          address: "10.0.0.5:5009",
          "control-plane": "http://10.0.0.2:8080",
          "data-dir": "/srv/agent",
        },
        {},
      ),
    ).toEqual([
      "--registration-token-file",
      "/root/token",
      "--address",
      "10.0.0.5:5009",
      "--control-plane",
      "http://10.0.0.2:8080",
      "--listen",
      "0.0.0.0:5009",
      "--data-dir",
      "/srv/agent",
    ]);
    expect(agentArgs("run", { listen: "127.0.0.1:7000" })).toEqual(["--listen", "127.0.0.1:7000"]);
    // From the environment the agent inherits: nothing about the token on any command line.
    const fromEnv = agentArgs(
      "register",
      { address: "10.0.0.5:5009", "control-plane": "http://cp:8080" },
      { WRENN_REGISTRATION_TOKEN: "wrh_secret" },
    );
    expect(fromEnv).toEqual([
      "--address",
      "10.0.0.5:5009",
      "--control-plane",
      "http://cp:8080",
      "--listen",
      "0.0.0.0:5009",
    ]);
  });

  it("refuses a token on the command line, where ps shows it to every local user", () => {
    expect(
      agentArgs("register", { token: "wrh_x", address: "1.2.3.4:5", "control-plane": "http://x" }, {}),
    ).toMatch(/--token is not accepted .*--token-file/);
  });

  it("names missing or malformed flags", () => {
    const t = { "token-file": "/t" };
    expect(agentArgs("register", t, {})).toBe("missing --address, --control-plane");
    expect(agentArgs("register", { address: "1.2.3.4:5", "control-plane": "http://x" }, {})).toBe(
      "missing --token-file (or WRENN_REGISTRATION_TOKEN)",
    );
    expect(agentArgs("register", { ...t, address: "nohost", "control-plane": "http://x" }, {})).toMatch(
      /--address must look like/,
    );
    expect(agentArgs("register", { ...t, address: "1.2.3.4:5", "control-plane": "ftp://x" }, {})).toMatch(
      /--control-plane must be an http/,
    );
    expect(agentArgs("run", t)).toMatch(/--token-file only go with 'register'/);
  });

  it("exits 2 with one line on a bad invocation, before starting anything", async () => {
    const missing = await runCli(["host", "register", "--token-file", "/t"]);
    expect(missing.code).toBe(2);
    expect(missing.out).toMatch(/wrenn host register: missing --address, --control-plane/);
    const unknown = await runCli(["host", "register", "--bogus"]);
    expect(unknown.code).toBe(2);
    expect(unknown.out).toMatch(/Unknown option '--bogus'/);
    const help = await runCli(["host", "--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/start the host agent daemon/);
    expect(help.out).toMatch(/^ {2}register +Register with the control plane/m);
    const stray = await runCli(["host", "run", "--token-file", "/t"]);
    expect(stray.code).toBe(2);
    expect(stray.out.trim()).toBe(
      "wrenn host run: --token-file only go with 'register' (see 'wrenn host run --help')",
    );
  });
});
