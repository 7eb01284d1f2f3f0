import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { agentNodeArgs } from "./agent-entry.ts";

describe("agentNodeArgs", () => {
  it("runs the agent's TypeScript entry through tsx when the CLI runs from sources", () => {
    const args = agentNodeArgs();
    expect(args.slice(0, 2)).toEqual(["--import", "tsx"]);
    expect(args[2]).toMatch(/apps\/host-agent\/src\/main\.ts$/);
    expect(existsSync(args[2] ?? "")).toBe(true);
  });

  it("runs the agent's bundle beside the CLI's when the CLI runs from its bundle", () => {
    const args = agentNodeArgs("file:///opt/wrenn/apps/cli/dist/chunk-ABC.mjs");
    expect(args).toEqual(["--enable-source-maps", "/opt/wrenn/apps/host-agent/dist/main.mjs"]);
  });
});
