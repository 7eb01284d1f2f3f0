import { describe, expect, it } from "vitest";
import type { Template } from "../../api/sandboxes.ts";
import { buildCreateRequest, initialValues, parsePairs } from "./create-form.ts";

const image: Template = {
  id: "tpl-1",
  name: "minimal",
  type: "image",
  team_id: "team-p",
  platform: true,
  vcpus: 1,
  memory_mb: 512,
  size_bytes: 0,
  host_id: null,
  created_at: "2026-01-01T00:00:00Z",
};

describe("parsePairs", () => {
  it("reads KEY=value lines, keeping '=' inside values and skipping comments", () => {
    expect(parsePairs("A=1\n\n# note\nURL=http://x/?a=b\n", true)).toEqual({
      pairs: { A: "1", URL: "http://x/?a=b" },
    });
  });
  it("names the line of a mistake", () => {
    expect(parsePairs("A=1\nnovalue", true).error).toBe("Line 2: write KEY=value.");
    expect(parsePairs("1BAD=x", true).error).toMatch(/not a valid variable name/);
    expect(parsePairs("A=1\nA=2", true).error).toMatch(/set twice/);
    expect(parsePairs("team name=x", false).error).toBeUndefined();
  });
});

describe("buildCreateRequest", () => {
  it("builds the API body from valid values", () => {
    const v = { ...initialValues(image), envs: "A=1", metadata: "owner=ada" };
    expect(buildCreateRequest(v, image)).toEqual({
      input: {
        template: "minimal",
        vcpus: 1,
        memory_mb: 512,
        disk_size_mb: 5120,
        timeout_sec: 300,
        envs: { A: "1" },
        metadata: { owner: "ada" },
      },
      errors: {},
    });
  });

  it("rejects out-of-range and non-numeric sizes before sending", () => {
    const v = { ...initialValues(image), vcpus: "9", memoryMb: "64", diskSizeMb: "1.5", timeoutSec: "-1" };
    const r = buildCreateRequest(v, image);
    expect(r.input).toBeUndefined();
    expect(r.errors).toEqual({
      vcpus: "Between 1 and 8 vCPUs.",
      memoryMb: "Between 128 and 16384 MiB.",
      diskSizeMb: "Enter a whole number of MiB.",
      timeoutSec: "Enter a whole number of seconds.",
    });
  });

  it("leaves vCPUs and memory out for a snapshot (baked into its RAM image)", () => {
    const snap: Template = {
      ...image,
      name: "snap",
      type: "snapshot",
      platform: false,
      vcpus: 2,
      memory_mb: 1024,
    };
    const r = buildCreateRequest({ ...initialValues(snap), vcpus: "junk" }, snap);
    expect(r.input).toEqual({ template: "snap", disk_size_mb: 5120, timeout_sec: 300 });
  });

  it("requires a template", () => {
    expect(buildCreateRequest(initialValues(), undefined).errors.template).toBe("Choose a template.");
  });
});
