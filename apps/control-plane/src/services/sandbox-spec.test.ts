import type { Template } from "@wrenn/db";
import { describe, expect, it } from "vitest";
import { DEFAULT_TIMEOUT_SEC, resolveSandboxSpec, sandboxLimits } from "./sandbox-spec.ts";

function template(overrides: Partial<Template> = {}): Template {
  return {
    id: "00000000-0000-4000-8000-000000000001",
    teamId: "00000000-0000-4000-8000-000000000002",
    name: "minimal",
    type: "image",
    vcpus: 1,
    memoryMb: 512,
    sizeBytes: 0,
    createdAt: new Date(0),
    hostId: null,
    envs: {},
    defaultUser: null,
    defaultWorkdir: null,
    diskSizeMb: null,
    ...overrides,
  };
}

describe("resolveSandboxSpec", () => {
  it("fills in the template's sizes, the default disk and timeout, empty metadata and environment", () => {
    expect(resolveSandboxSpec({}, template({ vcpus: 2, memoryMb: 1024 }))).toEqual({
      vcpus: 2,
      memoryMb: 1024,
      diskSizeMb: 5120,
      timeoutSec: DEFAULT_TIMEOUT_SEC,
      metadata: {},
      envs: {},
      egress: { allowInternet: true, allowOut: [], denyOut: [] },
    });
  });

  it("keeps what the caller asked for within the limits", () => {
    const spec = {
      vcpus: 4,
      memoryMb: 2048,
      diskSizeMb: 8192,
      timeoutSec: 0,
      metadata: { owner: "ci" },
      envs: { A: "1" },
      egress: { allowInternet: false, allowOut: ["10.0.0.0/8", "pypi.org"], denyOut: [] },
    };
    expect(resolveSandboxSpec(spec, template())).toEqual(spec);
  });

  it("refuses an egress policy E2B would refuse, naming the field", () => {
    const egress = { allowInternet: true, allowOut: ["pypi.org"], denyOut: [] };
    expect(() => resolveSandboxSpec({ egress }, template())).toThrow(/^allow_out: allowing domains needs/);
  });

  it("gives a snapshot's sandboxes the vCPUs and memory baked into its RAM image", () => {
    const snapshot = template({ type: "snapshot", vcpus: 2, memoryMb: 768 });
    expect(resolveSandboxSpec({ vcpus: 8, memoryMb: 4096 }, snapshot)).toMatchObject({
      vcpus: 2,
      memoryMb: 768,
    });
  });

  it("refuses sizes outside the limits with invalid_argument naming the field", () => {
    const cases: [object, string][] = [
      [{ vcpus: sandboxLimits.vcpus.max + 1 }, "vcpus"],
      [{ memoryMb: 64 }, "memory_mb"],
      [{ diskSizeMb: 1.5 }, "disk_size_mb"],
      [{ timeoutSec: -1 }, "timeout_sec"],
    ];
    for (const [spec, field] of cases) {
      expect(() => resolveSandboxSpec(spec, template())).toThrow(
        expect.objectContaining({ code: "invalid_argument", message: expect.stringContaining(field) }),
      );
    }
  });
});
