import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { errors, type Logger } from "@wrenn/common";
import { type HostAgentService, hostagent } from "@wrenn/proto";
import type { MetricPoint, MetricsRange, MetricsRegistry, MetricsTier } from "../metrics/index.ts";
import type { SandboxManager } from "../sandbox/manager.ts";
import type { TemplateOperations } from "../sandbox/template-ops.ts";
import type { SandboxState, SandboxView } from "../sandbox/types.ts";
import { toConnectError } from "./errors.ts";
import { readFileStream, splitWriteStream, writeFileStream } from "./file-stream.ts";
import * as guest from "./guest.ts";
import { DEFAULT_PTY_IDLE_TIMEOUT_MS, PtySessions } from "./pty-sessions.ts";

/** What the RPC service delegates to. */
export interface ServiceDeps {
  manager: SandboxManager;
  templates: TemplateOperations;
  metrics?: MetricsRegistry | undefined;
  logger: Logger;
  /** Terminal bookkeeping (idle kill of detached sessions); default: {@link createPtySessions}. */
  ptySessions?: PtySessions | undefined;
}

/**
 * The agent's {@link PtySessions}: a detached terminal idle for `idleTimeoutMs`
 * (default 120 s) is killed through envd.
 */
export function createPtySessions(
  manager: SandboxManager,
  logger: Logger,
  idleTimeoutMs = DEFAULT_PTY_IDLE_TIMEOUT_MS,
): PtySessions {
  return new PtySessions({
    idleTimeoutMs,
    logger,
    sandboxState: (id) => {
      let state: SandboxState;
      try {
        state = manager.get(id).state;
      } catch {
        return "gone";
      }
      if (state === "running") return "running";
      return state === "stopping" || state === "stopped" || state === "error" ? "gone" : "paused";
    },
    follow: async function* (id, tag, signal) {
      const envd = manager.envd(id);
      try {
        const events = envd.process.connect(
          { process: guest.tagSelector(tag) },
          { headers: envd.headers(), signal },
        );
        for await (const res of events) {
          const c = res.event?.event.case;
          if (c === "data") yield "output" as const;
          else if (c === "end") yield "end" as const;
        }
      } catch (err) {
        // The process ended between the detach and this connect.
        if (ConnectError.from(err).code === Code.NotFound) yield "end" as const;
        else throw err;
      }
    },
    kill: async (id, tag) => {
      const envd = manager.envd(id);
      await envd.process.sendSignal(
        { process: guest.tagSelector(tag), signal: 9 },
        { headers: envd.headers() },
      );
    },
  });
}

const stateToProto: Record<SandboxState, hostagent.SandboxState> = {
  starting: hostagent.SandboxState.STARTING,
  running: hostagent.SandboxState.RUNNING,
  pausing: hostagent.SandboxState.PAUSING,
  paused: hostagent.SandboxState.PAUSED,
  stopping: hostagent.SandboxState.STOPPING,
  stopped: hostagent.SandboxState.UNSPECIFIED,
  error: hostagent.SandboxState.UNSPECIFIED,
};

const rangeFromProto: Partial<Record<hostagent.MetricsRange, MetricsRange>> = {
  [hostagent.MetricsRange.METRICS_RANGE_5M]: "5m",
  [hostagent.MetricsRange.METRICS_RANGE_10M]: "10m",
  [hostagent.MetricsRange.METRICS_RANGE_1H]: "1h",
  [hostagent.MetricsRange.METRICS_RANGE_2H]: "2h",
  [hostagent.MetricsRange.METRICS_RANGE_6H]: "6h",
  [hostagent.MetricsRange.METRICS_RANGE_12H]: "12h",
  [hostagent.MetricsRange.METRICS_RANGE_24H]: "24h",
};

const tierToProto: Record<MetricsTier, hostagent.MetricsTier> = {
  "10m": hostagent.MetricsTier.METRICS_TIER_10M,
  "2h": hostagent.MetricsTier.METRICS_TIER_2H,
  "24h": hostagent.MetricsTier.METRICS_TIER_24H,
};

/** The SandboxInfo of a sandbox view. */
export function toSandboxInfo(s: SandboxView) {
  return {
    sandboxId: s.id,
    teamId: s.teamId,
    templateId: s.templateId,
    state: stateToProto[s.state],
    vcpus: s.vcpus,
    memoryMb: s.memoryMb,
    diskSizeMb: s.diskSizeMb,
    timeoutSec: s.timeoutSec,
    metadata: s.metadata,
    createdAt: timestampFromMs(Date.parse(s.createdAt)),
    lastActiveAt: timestampFromMs(Date.parse(s.lastActiveAt)),
    envdVersion: s.envdVersion,
  };
}

function toPoints(points: MetricPoint[]) {
  return points.map((p) => ({
    timestamp: timestampFromMs(p.ts),
    cpuPercent: p.cpuPercent,
    memoryRssBytes: BigInt(Math.round(p.memBytes)),
    diskBytes: BigInt(Math.round(p.diskBytes)),
  }));
}

/**
 * The `hostagent.v1.HostAgentService` implementation: a thin adapter that
 * validates, delegates to the manager / template operations / envd, and maps
 * every error through one table.
 */
export function createHostAgentService(deps: ServiceDeps): ServiceImpl<typeof HostAgentService> {
  const { manager, templates, logger } = deps;
  const pty = deps.ptySessions ?? createPtySessions(manager, logger);

  /** Unary handler wrapper: maps errors. */
  const unary =
    <I, O>(name: string, fn: (req: I, ctx: HandlerContext) => Promise<O> | O) =>
    async (req: I, ctx: HandlerContext): Promise<O> => {
      try {
        return await fn(req, ctx);
      } catch (err) {
        throw toConnectError(err, logger, name);
      }
    };

  /** Server-streaming handler wrapper: maps errors thrown while streaming. */
  const streaming = <I, O>(name: string, fn: (req: I, ctx: HandlerContext) => AsyncIterable<O>) =>
    async function* (req: I, ctx: HandlerContext): AsyncGenerator<O> {
      try {
        yield* fn(req, ctx);
      } catch (err) {
        throw toConnectError(err, logger, name);
      }
    };

  const metricsOf = () => {
    if (!deps.metrics) throw errors.unavailable("metrics are not enabled on this agent");
    return deps.metrics;
  };

  return {
    createSandbox: unary("CreateSandbox", async (req: hostagent.CreateSandboxRequest) => {
      const view = await manager.create({
        sandboxId: req.sandboxId,
        teamId: req.teamId,
        templateId: req.templateId,
        templateTeamId: req.templateTeamId,
        templateName: req.templateName,
        vcpus: req.vcpus,
        memoryMb: req.memoryMb,
        diskSizeMb: req.diskSizeMb,
        timeoutSec: req.timeoutSec,
        envs: req.envs,
        metadata: req.metadata,
        envdAccessToken: req.envdAccessToken,
      });
      return { sandbox: toSandboxInfo(view) };
    }),
    destroySandbox: unary("DestroySandbox", async (req: hostagent.DestroySandboxRequest) => {
      await manager.destroy(req.sandboxId);
      return {};
    }),
    pauseSandbox: unary("PauseSandbox", async (req: hostagent.PauseSandboxRequest) => ({
      snapshotSizeBytes: BigInt(await manager.pause(req.sandboxId)),
    })),
    resumeSandbox: unary("ResumeSandbox", async (req: hostagent.ResumeSandboxRequest) => ({
      sandbox: toSandboxInfo(await manager.resume(req.sandboxId, req.timeoutSec)),
    })),
    // Restarts the inactivity countdown; a given timeout_sec replaces the running VM's TTL at once.
    pingSandbox: unary("PingSandbox", async (req: hostagent.PingSandboxRequest) => ({
      sandbox: toSandboxInfo(await manager.ping(req.sandboxId, req.timeoutSec)),
    })),
    listSandboxes: unary("ListSandboxes", () => {
      const { sandboxes, autoPausedIds } = manager.list();
      return { sandboxes: sandboxes.map(toSandboxInfo), autoPausedSandboxIds: autoPausedIds };
    }),
    pauseAll: unary("PauseAll", async () => {
      const { paused, failures } = await manager.pauseAll();
      return { pausedSandboxIds: paused, failures };
    }),

    exec: unary("Exec", (req: hostagent.ExecRequest) => guest.exec(manager.envd(req.sandboxId), req)),
    execStream: streaming("ExecStream", (req: hostagent.ExecStreamRequest, ctx) =>
      guest.execStream(manager.envd(req.sandboxId), req, ctx.signal),
    ),
    sendProcessInput: unary("SendProcessInput", async (req: hostagent.SendProcessInputRequest) => {
      const envd = manager.envd(req.sandboxId);
      await envd.process.sendInput(
        { process: guest.toEnvdSelector(req.process), input: { input: { case: "stdin", value: req.data } } },
        { headers: envd.headers() },
      );
      return {};
    }),
    closeProcessStdin: unary("CloseProcessStdin", async (req: hostagent.CloseProcessStdinRequest) => {
      const envd = manager.envd(req.sandboxId);
      await envd.process.closeStdin(
        { process: guest.toEnvdSelector(req.process) },
        { headers: envd.headers() },
      );
      return {};
    }),

    readFile: unary("ReadFile", async (req: hostagent.ReadFileRequest) => ({
      content: await guest.readFile(manager.envd(req.sandboxId), req.path, req.user),
    })),
    writeFile: unary("WriteFile", async (req: hostagent.WriteFileRequest) => ({
      entry: await guest.writeFile(manager.envd(req.sandboxId), req.path, req.user, req.content),
    })),
    streamReadFile: streaming("StreamReadFile", async function* (req: hostagent.StreamReadFileRequest, ctx) {
      const envd = manager.envd(req.sandboxId);
      const stat = await envd.filesystem.stat({ path: req.path }, { headers: envd.headers(req.user) });
      yield { payload: { case: "entry" as const, value: guest.toFileEntry(stat.entry) ?? {} } };
      for await (const chunk of readFileStream(envd, req.path, req.user, req.chunkSizeBytes, ctx.signal)) {
        yield { payload: { case: "chunk" as const, value: chunk } };
      }
    }),
    streamWriteFile: unary(
      "StreamWriteFile",
      async (stream: AsyncIterable<hostagent.StreamWriteFileRequest>, ctx) => {
        const { meta, chunks } = await splitWriteStream(stream);
        const envd = manager.envd(meta.sandboxId);
        return { entry: await writeFileStream(envd, meta.path, meta.user, chunks, ctx.signal) };
      },
    ),
    listDir: unary("ListDir", async (req: hostagent.ListDirRequest) => {
      const envd = manager.envd(req.sandboxId);
      const res = await envd.filesystem.listDir(
        { path: req.path, depth: req.depth || 1 },
        { headers: envd.headers(req.user) },
      );
      return { entries: res.entries.map((e) => guest.toFileEntry(e) ?? {}) };
    }),
    makeDir: unary("MakeDir", async (req: hostagent.MakeDirRequest) => {
      const envd = manager.envd(req.sandboxId);
      const res = await envd.filesystem.makeDir({ path: req.path }, { headers: envd.headers(req.user) });
      return { entry: guest.toFileEntry(res.entry) };
    }),
    removePath: unary("RemovePath", async (req: hostagent.RemovePathRequest) => {
      const envd = manager.envd(req.sandboxId);
      await envd.filesystem.remove({ path: req.path }, { headers: envd.headers(req.user) });
      return {};
    }),

    ptyAttach: streaming("PtyAttach", async function* (req: hostagent.PtyAttachRequest, ctx) {
      const envd = manager.envd(req.sandboxId);
      const selector = guest.tagSelector(req.tag);
      const headers = envd.headers(req.command?.user);
      const existing = (await envd.process.list({}, { headers })).processes.some((p) => p.tag === req.tag);
      const events = existing
        ? envd.process.connect({ process: selector }, { headers, signal: ctx.signal })
        : envd.process.start(
            {
              process: {
                cmd: req.command?.cmd || "/bin/bash",
                args: req.command?.cmd ? req.command.args : ["-l"],
                envs: { TERM: "xterm-256color", ...req.command?.envs },
                cwd: req.command?.cwd || undefined,
              },
              pty: { size: { cols: req.cols || 80, rows: req.rows || 24 } },
              tag: req.tag,
              stdin: true,
            },
            { headers, signal: ctx.signal },
          );
      let detach: (() => void) | undefined;
      try {
        for await (const res of events) {
          const e = res.event?.event;
          if (e?.case === "start") {
            detach ??= pty.attach(req.sandboxId, req.tag);
            yield {
              event: { case: "attached" as const, value: { pid: e.value.pid, reconnected: existing } },
            };
          } else if (
            e?.case === "data" &&
            (e.value.output.case === "pty" || e.value.output.case === "stdout")
          ) {
            yield { event: { case: "output" as const, value: e.value.output.value } };
          } else if (e?.case === "end") {
            pty.ended(req.sandboxId, req.tag);
            yield {
              event: {
                case: "exited" as const,
                value: { exitCode: e.value.exitCode, status: e.value.status, error: e.value.error ?? "" },
              },
            };
          }
        }
      } finally {
        // A disconnect leaves the session running; PtySessions kills it if it stays idle.
        detach?.();
      }
    }),
    ptySendInput: unary("PtySendInput", async (req: hostagent.PtySendInputRequest) => {
      const envd = manager.envd(req.sandboxId);
      pty.activity(req.sandboxId, req.tag);
      await envd.process.sendInput(
        { process: guest.tagSelector(req.tag), input: { input: { case: "pty", value: req.data } } },
        { headers: envd.headers() },
      );
      return {};
    }),
    ptyResize: unary("PtyResize", async (req: hostagent.PtyResizeRequest) => {
      const envd = manager.envd(req.sandboxId);
      if (!req.cols || !req.rows) throw errors.invalidArgument("cols and rows are required");
      await envd.process.update(
        { process: guest.tagSelector(req.tag), pty: { size: { cols: req.cols, rows: req.rows } } },
        { headers: envd.headers() },
      );
      return {};
    }),
    ptyKill: unary("PtyKill", async (req: hostagent.PtyKillRequest) => {
      const envd = manager.envd(req.sandboxId);
      await envd.process.sendSignal(
        { process: guest.tagSelector(req.tag), signal: guest.toEnvdSignal(req.signal) },
        { headers: envd.headers() },
      );
      return {};
    }),

    listProcesses: unary("ListProcesses", async (req: hostagent.ListProcessesRequest) => {
      const envd = manager.envd(req.sandboxId);
      const res = await envd.process.list({}, { headers: envd.headers() });
      return {
        processes: res.processes.map((p) => ({
          pid: p.pid,
          tag: p.tag,
          cmd: p.config?.cmd ?? "",
          args: p.config?.args ?? [],
          envs: p.config?.envs ?? {},
          cwd: p.config?.cwd ?? "",
          pty: false,
        })),
      };
    }),
    killProcess: unary("KillProcess", async (req: hostagent.KillProcessRequest) => {
      const envd = manager.envd(req.sandboxId);
      await envd.process.sendSignal(
        { process: guest.toEnvdSelector(req.process), signal: guest.toEnvdSignal(req.signal) },
        { headers: envd.headers() },
      );
      return {};
    }),
    connectProcess: streaming("ConnectProcess", async function* (req: hostagent.ConnectProcessRequest, ctx) {
      const envd = manager.envd(req.sandboxId);
      const events = envd.process.connect(
        { process: guest.toEnvdSelector(req.process) },
        { headers: envd.headers(), signal: ctx.signal },
      );
      for await (const res of events) {
        const mapped = res.event ? guest.toProcessEvent(res.event) : undefined;
        if (mapped) yield { event: mapped };
      }
    }),

    createSnapshot: unary("CreateSnapshot", async (req: hostagent.CreateSnapshotRequest) => {
      const r = await templates.createSnapshot(req.sandboxId, req.teamId, req.templateId);
      return { sizeBytes: BigInt(r.sizeBytes), vcpus: r.vcpus, memoryMb: r.memoryMb };
    }),
    deleteSnapshot: unary("DeleteSnapshot", async (req: hostagent.DeleteSnapshotRequest) => {
      await templates.deleteSnapshot(req.teamId, req.templateId);
      return {};
    }),
    flattenRootfs: unary("FlattenRootfs", async (req: hostagent.FlattenRootfsRequest) => {
      const r = await templates.flattenRootfs(req.sandboxId, req.teamId, req.templateId);
      return { sizeBytes: BigInt(r.sizeBytes) };
    }),

    getSandboxMetrics: unary("GetSandboxMetrics", (req: hostagent.GetSandboxMetricsRequest) => {
      manager.get(req.sandboxId);
      const range = rangeFromProto[req.range];
      if (!range) throw errors.invalidArgument("range is required");
      const points = metricsOf().get(req.sandboxId, range) ?? [];
      const tier =
        range === "5m" || range === "10m" ? "10m" : range === "1h" || range === "2h" ? "2h" : "24h";
      return { series: { tier: tierToProto[tier], points: toPoints(points) } };
    }),
    flushSandboxMetrics: unary("FlushSandboxMetrics", (req: hostagent.FlushSandboxMetricsRequest) => {
      manager.get(req.sandboxId);
      const snapshot = metricsOf().flush(req.sandboxId);
      const tiers: MetricsTier[] = ["10m", "2h", "24h"];
      return {
        series: tiers.map((tier) => ({ tier: tierToProto[tier], points: toPoints(snapshot?.[tier] ?? []) })),
      };
    }),
  };
}
