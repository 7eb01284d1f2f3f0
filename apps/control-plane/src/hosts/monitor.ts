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
import { formatId, tryParseId } from "../ids.ts";
import { systemActor } from "../services/actor.ts";
import type { AuditLogger } from "../services/audit.ts";
import { callAgent, type HostClientPool } from "./pool.ts";
import { type AgentReport, planReconciliation, type ReconcileAction } from "./reconcile.ts";

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
}

/**
 * Watches hosts: a host whose heartbeat is older than `staleAfterMs` (90 s) becomes
 * `unreachable` and its running sandboxes `missing` (reversible: the next
 * heartbeat brings the host back `online`). Every online host is then
 * reconciled against its agent's ListSandboxes (see {@link planReconciliation}).
 */
export class HostMonitor {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<MonitorReport> | undefined;

  constructor(private readonly o: HostMonitorOptions) {}

  private now(): Date {
    return this.o.now?.() ?? new Date();
  }

  /** Runs a pass every `intervalMs` (30 s) until {@link stop}. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.tick().catch((err) => this.o.log.error({ err }, "host monitor pass failed"));
    }, this.o.intervalMs ?? HOST_MONITOR_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a pass in progress. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  /** One pass (passes never overlap). */
  tick(): Promise<MonitorReport> {
    this.#running ??= this.#tick().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #tick(): Promise<MonitorReport> {
    const report: MonitorReport = { unreachable: [], reconciled: [], failed: [] };
    const now = this.now();
    const stale = await listStaleOnlineHosts(
      this.o.db,
      new Date(now.getTime() - (this.o.staleAfterMs ?? HOST_STALE_AFTER_MS)),
    );
    for (const host of stale) report.unreachable.push(await this.markUnreachable(host, now));
    for (const host of await listOnlineHosts(this.o.db)) {
      try {
        report.reconciled.push({ hostId: host.id, actions: await this.reconcile(host, now) });
      } catch (err) {
        // A heartbeating host whose RPC port does not answer: leave it to the staleness rule.
        this.o.log.warn({ err, hostId: host.id }, "reconciling host failed");
        report.failed.push(host.id);
      }
    }
    return report;
  }

  private async markUnreachable(host: Host, now: Date) {
    const missing = await this.o.db.transaction(async (tx) => {
      await setHostStatus(tx, host.id, "unreachable", now);
      return transitionSandboxesOnHost(tx, host.id, ["running", "starting"], "missing", now);
    });
    this.o.log.warn({ hostId: host.id, missing: missing.length }, "host unreachable");
    await this.o.audit.hostStatusChanged(host.teamId, host.id, "unreachable", missing.length);
    return { hostId: host.id, missing };
  }

  /** Reconciles one online host with what its agent runs; returns the actions applied. */
  async reconcile(host: Host, now = this.now()): Promise<ReconcileAction[]> {
    const client = this.o.pool.get(host);
    const listed = await callAgent("list sandboxes", () => client.listSandboxes({}));
    const agentReport: AgentReport = { alive: [], autoPaused: [] };
    for (const s of listed.sandboxes) {
      const id = tryParseId("sandbox", s.sandboxId);
      if (!id) {
        this.o.log.warn(
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
    const onHost = await listSandboxesOnHost(this.o.db, host.id, [
      "starting",
      "running",
      "missing",
      "paused",
    ]);
    const reported = await getSandboxesByIds(
      this.o.db,
      agentReport.alive.map((s) => s.id),
    );
    const actions = planReconciliation(host.id, onHost, reported, agentReport, now);
    const applied: ReconcileAction[] = [];
    for (const a of actions) {
      if (await this.apply(host, a, now)) applied.push(a);
    }
    return applied;
  }

  private async apply(host: Host, a: ReconcileAction, now: Date): Promise<boolean> {
    if (a.kind === "destroy_orphan") {
      try {
        await callAgent("destroy an orphan sandbox", () =>
          this.o.pool.get(host).destroySandbox({ sandboxId: formatId("sandbox", a.id) }),
        );
        this.o.log.warn({ hostId: host.id, sandboxId: a.id }, "destroyed orphan sandbox");
        return true;
      } catch (err) {
        this.o.log.warn({ err, hostId: host.id, sandboxId: a.id }, "destroying orphan failed");
        return false;
      }
    }
    const to = a.kind === "restore" ? "running" : a.kind === "mark_paused" ? "paused" : "stopped";
    const row = await transitionSandbox(this.o.db, a.id, [a.from], to, now);
    if (!row) return false; // a user action changed it meanwhile
    await this.o.audit.sandboxAction(
      systemActor,
      row.teamId,
      row.id,
      a.kind === "mark_lost" ? "lost" : `reconcile_${to}`,
      {
        status: a.kind === "mark_lost" ? "warning" : "info",
        metadata: { from: a.from, host_id: formatId("host", host.id) },
      },
    );
    return true;
  }
}
