import type { Logger } from "@wrenn/common";
import {
  type Database,
  getSandboxesByIds,
  type Host,
  listOnlineHosts,
  listSandboxesOnHost,
  listStaleOnlineHosts,
  setHostStatus,
  transitionSandbox,
  transitionSandboxesOnHost,
} from "@wrenn/db";
import { hostagent } from "@wrenn/proto";
import { callAgent, type HostClientPool } from "../hosts/pool.ts";
import { type AgentReport, planReconciliation, type ReconcileAction } from "../hosts/reconcile.ts";
import { formatId, tryParseId } from "../ids.ts";
import type { JobLeases } from "../infra/job-lease.ts";
import { PeriodicPass } from "../infra/periodic-pass.ts";
import { systemActor } from "./actor.ts";
import type { AuditLogger } from "./audit.ts";

/** A host silent this long becomes `unreachable` (default of `HOST_STALE_AFTER_SEC`). */
export const HOST_STALE_AFTER_MS = 90_000;
/** How often the monitor runs (default of `HOST_MONITOR_INTERVAL_SEC`). */
export const HOST_MONITOR_INTERVAL_MS = 30_000;

/** What one monitor pass did. */
export interface MonitorReport {
  /** Hosts that became unreachable, with the sandboxes marked missing. */
  unreachable: { hostId: string; missing: string[] }[];
  /** Actions applied per reconciled host. */
  reconciled: { hostId: string; actions: ReconcileAction[] }[];
  /** Online hosts whose agent did not answer ListSandboxes. */
  failed: string[];
}

/** Options of a {@link HostMonitor}. */
export interface HostMonitorOptions {
  db: Database;
  pool: HostClientPool;
  audit: AuditLogger;
  log: Logger;
  /** Injected for tests. */
  now?: () => Date;
  /** Default {@link HOST_STALE_AFTER_MS}. */
  staleAfterMs?: number;
  /** Default {@link HOST_MONITOR_INTERVAL_MS}. */
  intervalMs?: number;
  /** With several control planes: timed passes run only in the one holding the job's lease. */
  leases?: JobLeases;
}

/**
 * Watches hosts: a host whose heartbeat is older than `staleAfterMs` (90 s) becomes
 * `unreachable` and its running sandboxes `missing` (reversible: the next
 * heartbeat brings the host back `online`). Every online host is then
 * reconciled against its agent's ListSandboxes (see {@link planReconciliation}).
 */
export class HostMonitor {
  readonly #passes: PeriodicPass<MonitorReport>;

  constructor(private readonly options: HostMonitorOptions) {
    this.#passes = new PeriodicPass({
      job: "host-monitor",
      run: () => this.#tick(),
      log: options.log,
      failure: "host monitor pass failed",
    });
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** Runs a pass every `intervalMs` (30 s) until {@link stop}. */
  start(): void {
    this.#passes.start(this.options.intervalMs ?? HOST_MONITOR_INTERVAL_MS, {
      leases: this.options.leases,
      tick: () => this.tick(),
    });
  }

  /** Stops the timer and waits for a pass in progress. */
  stop(): Promise<void> {
    return this.#passes.stop();
  }

  /** One pass (passes never overlap). */
  tick(): Promise<MonitorReport> {
    return this.#passes.tick();
  }

  async #tick(): Promise<MonitorReport> {
    const report: MonitorReport = { unreachable: [], reconciled: [], failed: [] };
    const now = this.now();
    const stale = await listStaleOnlineHosts(
      this.options.db,
      new Date(now.getTime() - (this.options.staleAfterMs ?? HOST_STALE_AFTER_MS)),
    );
    for (const host of stale) report.unreachable.push(await this.markUnreachable(host, now));
    for (const host of await listOnlineHosts(this.options.db)) {
      try {
        report.reconciled.push({ hostId: host.id, actions: await this.reconcile(host, now) });
      } catch (err) {
        // A heartbeating host whose RPC port does not answer: leave it to the staleness rule.
        this.options.log.warn({ err, hostId: host.id }, "reconciling host failed");
        report.failed.push(host.id);
      }
    }
    return report;
  }

  private async markUnreachable(host: Host, now: Date) {
    const missing = await this.options.db.transaction(async (tx) => {
      await setHostStatus(tx, host.id, "unreachable", now);
      return transitionSandboxesOnHost(tx, host.id, ["running", "starting"], "missing", now);
    });
    this.options.log.warn({ hostId: host.id, missing: missing.length }, "host unreachable");
    await this.options.audit.hostStatusChanged(host.teamId, host.id, "unreachable", missing.length);
    return { hostId: host.id, missing };
  }

  /** Reconciles one online host with what its agent runs; returns the actions applied. */
  async reconcile(host: Host, now = this.now()): Promise<ReconcileAction[]> {
    const client = this.options.pool.get(host);
    const listed = await callAgent("list sandboxes", () => client.listSandboxes({}));
    const agentReport: AgentReport = { alive: [], autoPaused: [] };
    for (const s of listed.sandboxes) {
      const id = tryParseId("sandbox", s.sandboxId);
      if (!id) {
        this.options.log.warn(
          { hostId: host.id, sandboxId: s.sandboxId },
          "agent runs a sandbox with a foreign id; left alone",
        );
        continue;
      }
      agentReport.alive.push({ id, starting: s.state === hostagent.SandboxState.STARTING });
    }
    for (const wire of listed.autoPausedSandboxIds) {
      const id = tryParseId("sandbox", wire);
      if (id) agentReport.autoPaused.push(id);
    }
    const onHost = await listSandboxesOnHost(this.options.db, host.id, [
      "starting",
      "running",
      "missing",
      "paused",
    ]);
    const reported = await getSandboxesByIds(
      this.options.db,
      agentReport.alive.map((s) => s.id),
    );
    const actions = planReconciliation(host.id, onHost, reported, agentReport, now);
    const applied: ReconcileAction[] = [];
    for (const action of actions) {
      if (await this.apply(host, action, now)) applied.push(action);
    }
    return applied;
  }

  private async apply(host: Host, action: ReconcileAction, now: Date): Promise<boolean> {
    if (action.kind === "destroy_orphan") {
      try {
        await callAgent("destroy an orphan sandbox", () =>
          this.options.pool.get(host).destroySandbox({ sandboxId: formatId("sandbox", action.id) }),
        );
        this.options.log.warn({ hostId: host.id, sandboxId: action.id }, "destroyed orphan sandbox");
        return true;
      } catch (err) {
        this.options.log.warn({ err, hostId: host.id, sandboxId: action.id }, "destroying orphan failed");
        return false;
      }
    }
    return applyStateAction(this.options, host, action, now);
  }
}

/**
 * Applies a state change of reconciliation (not an orphan's destruction) to the database, with
 * its audit entry; false when a user action changed the sandbox meanwhile. Shared by the
 * monitor and the heartbeat's sandbox report.
 */
export async function applyStateAction(
  deps: { db: Database; audit: AuditLogger },
  host: { id: string },
  action: Exclude<ReconcileAction, { kind: "destroy_orphan" }>,
  now: Date,
): Promise<boolean> {
  const to = action.kind === "restore" ? "running" : action.kind === "mark_paused" ? "paused" : "stopped";
  const row = await transitionSandbox(deps.db, action.id, [action.from], to, now);
  if (!row) return false;
  await deps.audit.sandboxAction(
    systemActor,
    row.teamId,
    row.id,
    action.kind === "mark_lost" ? "lost" : `reconcile_${to}`,
    {
      status: action.kind === "mark_lost" ? "warning" : "info",
      metadata: { from: action.from, host_id: formatId("host", host.id) },
    },
  );
  return true;
}
