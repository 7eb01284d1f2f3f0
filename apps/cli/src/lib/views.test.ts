import type { SandboxInfo } from "@wrenn/sdk";
import { describe, expect, it } from "vitest";
import { sandboxDetails, sandboxJson } from "./views.ts";

const info: SandboxInfo = {
  sandboxId: "sb-1",
  state: "paused",
  template: "minimal",
  hostId: "host-1",
  vcpus: 2,
  memoryMb: 512,
  diskSizeMb: 2048,
  timeoutMs: 300_000,
  metadata: { suite: "cli" },
  allowInternetAccess: false,
  network: { allowOut: ["pypi.org"], denyOut: [] },
  createdAt: new Date("2026-01-02T03:04:05.000Z"),
  lastActiveAt: null,
};

describe("sandboxJson", () => {
  it("is the REST wire form, every field and nothing else", () => {
    expect(sandboxJson(info)).toStrictEqual({
      id: "sb-1",
      state: "paused",
      template: "minimal",
      host_id: "host-1",
      vcpus: 2,
      memory_mb: 512,
      disk_size_mb: 2048,
      timeout_sec: 300,
      metadata: { suite: "cli" },
      allow_internet: false,
      allow_out: ["pypi.org"],
      deny_out: [],
      created_at: "2026-01-02T03:04:05.000Z",
      last_active_at: null,
    });
  });
});

describe("sandboxDetails", () => {
  it("shows the timeout, host and a missing last-active date", () => {
    const text = sandboxDetails({ ...info, timeoutMs: 0, hostId: null });
    expect(text).toMatch(/^ID:\s+sb-1$/m);
    expect(text).toMatch(/^Timeout:\s+none$/m);
    expect(text).toMatch(/^Host:\s+-$/m);
    expect(text).toMatch(/^Last active:\s+-$/m);
    expect(text).toMatch(/^Egress:\s+no internet; allow pypi\.org$/m);
    expect(
      sandboxDetails({ ...info, allowInternetAccess: true, network: { allowOut: [], denyOut: [] } }),
    ).toMatch(/^Egress:\s+open$/m);
    expect(text).toMatch(/^Created:\s+2026-01-02T03:04:05.000Z \(\d+d ago\)$/m);
  });
});
