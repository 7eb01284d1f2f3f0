import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { qmpSocketPath } from "./qemu.ts";

describe("qmpSocketPath", () => {
  it("keeps the socket in a short run directory", () => {
    expect(qmpSocketPath("/var/lib/wrenn/sandboxes/sb-x")).toBe("/var/lib/wrenn/sandboxes/sb-x/qmp.sock");
  });

  it("moves it to a stable, distinct short name when the run directory is too deep for a socket address", () => {
    const team = "5d2e8c4a-0b1f-4c5e-9a7d-3e2f1a0b9c8d";
    const deep = (tpl: string) => `/var/lib/wrenn/templates/teams/${team}/${tpl}/gen-000001`;
    const a = qmpSocketPath(deep("0f9e8d7c-6b5a-4f3e-8d2c-1b0a9f8e7d6c"));
    const b = qmpSocketPath(deep("1f9e8d7c-6b5a-4f3e-8d2c-1b0a9f8e7d6c"));
    expect(join(deep("0f9e8d7c-6b5a-4f3e-8d2c-1b0a9f8e7d6c"), "qmp.sock").length).toBeGreaterThan(107);
    expect(a.startsWith(join(tmpdir(), "wrenn-qmp-"))).toBe(true);
    expect(Buffer.byteLength(a)).toBeLessThanOrEqual(107);
    expect(qmpSocketPath(deep("0f9e8d7c-6b5a-4f3e-8d2c-1b0a9f8e7d6c"))).toBe(a);
    expect(b).not.toBe(a);
  });
});
