import type { SandboxState } from "@wrenn/db";

/** A sandbox as the database knows it (on the host being reconciled, or reported by it). */
export interface KnownSandbox {
  id: string;
  hostId: string | null;
  state: SandboxState;
  lastUpdated: Date;
}

/** What the host's agent reports (ListSandboxes). */
export interface AgentReport {
  /** UUIDs of sandboxes with a VM on the host, with whether they are starting. */
  alive: { id: string; starting: boolean }[];
  /** UUIDs the agent paused on its own (inactivity, or after losing the control plane). */
  autoPaused: string[];
}

/** One change reconciliation makes. */
export type ReconcileAction =
  | { kind: "restore"; id: string; from: SandboxState }
  | { kind: "mark_paused"; id: string; from: SandboxState }
  | { kind: "mark_lost"; id: string; from: SandboxState }
  | { kind: "destroy_orphan"; id: string };

// Rows changed this recently may be mid-operation (create, resume): leave them to that operation.
const SETTLE_MS = 60_000;

/**
 * Decides how to bring the database in line with what an online host runs:
 * - `missing` (or settled `starting`/`paused`) sandboxes the agent runs → `running`;
 * - sandboxes the agent paused on its own → `paused`;
 * - `running`/`missing` sandboxes the agent has no trace of → lost (`stopped`);
 * - VMs the database does not place on this host as live → destroyed (orphans).
 * Pure, so every rule is tested without a VM.
 */
export function planReconciliation(
  hostId: string,
  onHost: KnownSandbox[],
  reportedRows: KnownSandbox[],
  report: AgentReport,
  now: Date,
): ReconcileAction[] {
  const actions: ReconcileAction[] = [];
  const alive = new Map(report.alive.map((s) => [s.id, s]));
  const autoPaused = new Set(report.autoPaused);
  const settled = (s: KnownSandbox) => now.getTime() - s.lastUpdated.getTime() >= SETTLE_MS;

  for (const s of onHost) {
    const vm = alive.get(s.id);
    if (autoPaused.has(s.id) && !vm) {
      if (s.state === "running" || s.state === "missing")
        actions.push({ kind: "mark_paused", id: s.id, from: s.state });
      continue;
    }
    if (vm) {
      // `paused` with a live VM means a pause did not happen as recorded: the VM is the truth.
      const stale = (s.state === "starting" || s.state === "paused") && !vm.starting && settled(s);
      if (s.state === "missing" || stale) {
        actions.push({ kind: "restore", id: s.id, from: s.state });
      }
      continue;
    }
    if ((s.state === "running" || s.state === "missing") && settled(s)) {
      actions.push({ kind: "mark_lost", id: s.id, from: s.state });
    }
  }

  const byId = new Map(reportedRows.map((r) => [r.id, r]));
  for (const vm of report.alive) {
    const row = byId.get(vm.id);
    const live =
      row &&
      row.hostId === hostId &&
      ["starting", "running", "missing", "pending", "paused"].includes(row.state);
    // A VM still starting may belong to a create whose row is being written: spare it this round.
    if (!live && !(vm.starting && row === undefined)) actions.push({ kind: "destroy_orphan", id: vm.id });
  }
  return actions;
}

/**
 * The part of {@link planReconciliation} a heartbeat's sandbox report settles at once: sandboxes
 * the agent paused on its own become `paused`, and `missing` ones it runs become `running`
 * again. Losing a sandbox, orphans and the `starting`/`paused` repairs stay with the monitor,
 * which asks the agent directly and waits out operations in flight.
 */
export function planFromHeartbeat(
  hostId: string,
  onHost: KnownSandbox[],
  report: AgentReport,
  now: Date,
): ReconcileAction[] {
  return planReconciliation(hostId, onHost, [], report, now).filter(
    (a) => a.kind === "mark_paused" || (a.kind === "restore" && a.from === "missing"),
  );
}
