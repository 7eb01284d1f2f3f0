import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { commandLine, shellQuote } from "./shell.ts";

describe("shellQuote", () => {
  it("leaves plain words alone and quotes the rest", () => {
    expect(shellQuote("ls")).toBe("ls");
    expect(shellQuote("/tmp/a-b_c.txt")).toBe("/tmp/a-b_c.txt");
    expect(shellQuote("")).toBe("''");
    expect(shellQuote("a b")).toBe("'a b'");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });

  it("round-trips awkward words through a real bash", () => {
    const words = ["printf", "%s|", "a b", "it's", "$HOME", "`id`", "*", "", "new\nline", '"q"'];
    const out = execFileSync("/bin/bash", ["-c", commandLine(words)], { encoding: "utf8" });
    expect(out).toBe(
      words
        .slice(2)
        .map((w) => `${w}|`)
        .join(""),
    );
  });
});

describe("commandLine", () => {
  it("passes a single argument through as a script", () => {
    expect(commandLine(["echo $HOME | wc -c"])).toBe("echo $HOME | wc -c");
  });
});
