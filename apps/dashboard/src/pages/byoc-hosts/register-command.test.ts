import { describe, expect, it } from "vitest";
import {
  ADDRESS_PLACEHOLDER,
  addressProblem,
  registerCommand,
  shellQuote,
  tagProblem,
} from "./register-command.ts";

describe("host registration command", () => {
  it("passes the token through the environment, never as an argument", () => {
    const cmd = registerCommand({ token: "wrh_secret", controlPlaneUrl: "https://wrenn.example.com/" });
    const lines = cmd.split("\n");
    expect(lines[0]).toBe("export WRENN_REGISTRATION_TOKEN='wrh_secret'");
    expect(lines.slice(1).join("\n")).not.toContain("wrh_secret");
    expect(cmd).not.toContain("--token");
    expect(lines[1]).toBe("scripts/wrenn host register \\");
    expect(cmd).toContain("--control-plane 'https://wrenn.example.com'");
    expect(cmd).toContain(`--address ${ADDRESS_PLACEHOLDER}`);
  });

  it("fills in a typed address, quoted", () => {
    const cmd = registerCommand({
      token: "t",
      controlPlaneUrl: "http://cp:8080",
      address: " 10.0.0.5:5007 ",
    });
    expect(cmd).toContain("--address '10.0.0.5:5007'");
  });

  it("quotes shell metacharacters", () => {
    expect(shellQuote("a'b $x")).toBe(`'a'\\''b $x'`);
  });

  it("validates addresses and tags like the API", () => {
    expect(addressProblem("10.0.0.5:5007")).toBeNull();
    expect(addressProblem("[::1]:5007")).toBeNull();
    expect(addressProblem("host.example:80")).toBeNull();
    expect(addressProblem("10.0.0.5")).toMatch(/host:port/);
    expect(addressProblem("10.0.0.5:70000")).toMatch(/1-65535/);
    expect(tagProblem("gpu")).toBeNull();
    expect(tagProblem("zone:eu-1")).toBeNull();
    expect(tagProblem("")).toMatch(/Type/);
    expect(tagProblem("-bad")).not.toBeNull();
    expect(tagProblem("has space")).not.toBeNull();
  });
});
