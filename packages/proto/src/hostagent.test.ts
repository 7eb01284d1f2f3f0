import { create, fromBinary, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { HostAgentService, hostagent } from "./index.ts";

/** Every host-agent RPC the seed history names, and those Wrenn added since, with its streaming kind. */
const expectedMethods: Record<string, "unary" | "server_streaming" | "client_streaming"> = {
  CreateSandbox: "unary",
  DestroySandbox: "unary",
  PauseSandbox: "unary",
  ResumeSandbox: "unary",
  PingSandbox: "unary",
  ListSandboxes: "unary",
  PauseAll: "unary",
  Exec: "unary",
  ExecStream: "server_streaming",
  SendProcessInput: "unary",
  CloseProcessStdin: "unary",
  ReadFile: "unary",
  WriteFile: "unary",
  StreamReadFile: "server_streaming",
  StreamWriteFile: "client_streaming",
  ListDir: "unary",
  MakeDir: "unary",
  RemovePath: "unary",
  PtyAttach: "server_streaming",
  PtySendInput: "unary",
  PtyResize: "unary",
  PtyKill: "unary",
  ListProcesses: "unary",
  KillProcess: "unary",
  ConnectProcess: "server_streaming",
  CreateSnapshot: "unary",
  DeleteSnapshot: "unary",
  FlattenRootfs: "unary",
  GetSandboxMetrics: "unary",
  FlushSandboxMetrics: "unary",
  // Beyond the seeds: fork of a running sandbox, egress rules, templates from OCI images.
  ForkSandbox: "unary",
  UpdateSandboxNetwork: "unary",
  ImportImage: "unary",
};

/** RPCs that do not address one sandbox, or address it inside a nested message. */
const withoutLeadingSandboxId = new Set([
  "ListSandboxes",
  "PauseAll",
  "DeleteSnapshot",
  "StreamWriteFile",
  "ImportImage",
]);

describe("hostagent.v1.HostAgentService", () => {
  it("is served under /hostagent.v1.HostAgentService/", () => {
    expect(HostAgentService.typeName).toBe("hostagent.v1.HostAgentService");
  });

  it("declares exactly the RPCs the seeds name and those added since, with their streaming kinds", () => {
    const actual = Object.fromEntries(HostAgentService.methods.map((m) => [m.name, m.methodKind]));
    expect(actual).toEqual(expectedMethods);
  });

  it("pairs each RPC with its own <Name>Request / <Name>Response messages", () => {
    for (const method of HostAgentService.methods) {
      expect(method.input.typeName).toBe(`hostagent.v1.${method.name}Request`);
      expect(method.output.typeName).toBe(`hostagent.v1.${method.name}Response`);
    }
  });

  it("puts sandbox_id first in every per-sandbox request", () => {
    for (const method of HostAgentService.methods) {
      if (withoutLeadingSandboxId.has(method.name)) continue;
      const first = method.input.fields.find((f) => f.number === 1);
      expect({ method: method.name, field: first?.name, kind: first?.fieldKind }).toEqual({
        method: method.name,
        field: "sandbox_id",
        kind: "scalar",
      });
    }
    const metadata = hostagent.StreamWriteFileRequest_MetadataSchema.fields.find((f) => f.number === 1);
    expect(metadata?.name).toBe("sandbox_id");
  });

  it("round-trips a CreateSandboxRequest through binary and JSON", () => {
    const request = create(hostagent.CreateSandboxRequestSchema, {
      sandboxId: "cl-0b8e6f1c",
      teamId: "00000000-0000-0000-0000-000000000001",
      templateId: "00000000-0000-0000-0000-000000000000",
      templateTeamId: "00000000-0000-0000-0000-000000000000",
      templateName: "minimal",
      vcpus: 2,
      memoryMb: 512,
      diskSizeMb: 5120,
      timeoutSec: 300,
      envs: { LANG: "C.UTF-8" },
      metadata: { owner: "ci" },
      envdAccessToken: "token-1",
    });
    const decoded = fromBinary(
      hostagent.CreateSandboxRequestSchema,
      toBinary(hostagent.CreateSandboxRequestSchema, request),
    );
    expect(decoded).toEqual(request);
    const json = toJson(hostagent.CreateSandboxRequestSchema, request);
    expect(json).toMatchObject({ sandboxId: "cl-0b8e6f1c", diskSizeMb: 5120, envs: { LANG: "C.UTF-8" } });
    expect(fromJson(hostagent.CreateSandboxRequestSchema, json)).toEqual(request);
  });

  it("tells a PingSandbox without a timeout from one that sets it to 0 (never)", () => {
    const wire = (timeoutSec?: number) =>
      fromBinary(
        hostagent.PingSandboxRequestSchema,
        toBinary(
          hostagent.PingSandboxRequestSchema,
          create(hostagent.PingSandboxRequestSchema, { sandboxId: "sb-1", timeoutSec }),
        ),
      ).timeoutSec;
    expect(wire(undefined)).toBeUndefined();
    expect(wire(0)).toBe(0);
    expect(wire(5)).toBe(5);
    // An agent from before the field answered an empty response: no sandbox, which callers detect.
    const old = fromBinary(hostagent.PingSandboxResponseSchema, new Uint8Array());
    expect(old.sandbox).toBeUndefined();
  });

  it("keeps stream events distinguishable through the oneof", () => {
    const started = create(hostagent.ExecStreamResponseSchema, {
      event: { event: { case: "started", value: { pid: 42 } } },
    });
    const stdout = create(hostagent.ExecStreamResponseSchema, {
      event: { event: { case: "stdout", value: new TextEncoder().encode("hi\n") } },
    });
    const ended = create(hostagent.ExecStreamResponseSchema, {
      event: { event: { case: "ended", value: { exitCode: -9, exited: false, status: "signal: killed" } } },
    });
    const roundTrip = [started, stdout, ended].map((m) =>
      fromBinary(hostagent.ExecStreamResponseSchema, toBinary(hostagent.ExecStreamResponseSchema, m)),
    );
    expect(roundTrip.map((m) => m.event?.event.case)).toEqual(["started", "stdout", "ended"]);
    const end = roundTrip[2]?.event?.event;
    expect(end?.case === "ended" ? end.value.exitCode : undefined).toBe(-9);
  });

  it("carries metric points with timestamps and 64-bit sizes", () => {
    const at = new Date("2026-03-25T20:10:33.500Z");
    const response = create(hostagent.GetSandboxMetricsResponseSchema, {
      series: {
        tier: hostagent.MetricsTier.METRICS_TIER_10M,
        points: [
          {
            timestamp: timestampFromDate(at),
            cpuPercent: 37.5,
            memoryRssBytes: 6_000_000_000n,
            diskBytes: 1n,
          },
        ],
      },
    });
    const json = toJson(hostagent.GetSandboxMetricsResponseSchema, response);
    expect(json).toEqual({
      series: {
        tier: "METRICS_TIER_10M",
        points: [
          {
            timestamp: "2026-03-25T20:10:33.500Z",
            cpuPercent: 37.5,
            memoryRssBytes: "6000000000",
            diskBytes: "1",
          },
        ],
      },
    });
  });
});
