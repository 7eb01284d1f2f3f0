import { describe, expect, it } from "vitest";
import { type KnownSandbox, planFromHeartbeat, planReconciliation } from "./reconcile.ts";

const now = new Date("2026-01-01T12:00:00Z");
const old = new Date(now.getTime() - 5 * 60_000);
const fresh = new Date(now.getTime() - 5_000);
const H = "host-a";
const sb = (id: string, state: KnownSandbox["state"], over: Partial<KnownSandbox> = {}): KnownSandbox => ({
  id,
  hostId: H,
  state,
  lastUpdated: old,
  ...over,
});

describe("planReconciliation", () => {
  it("restores missing sandboxes the agent still runs", () => {
    const rows = [sb("a", "missing"), sb("b", "running")];
    const plan = planReconciliation(
      H,
      rows,
      rows,
      {
        alive: [
          { id: "a", starting: false },
          { id: "b", starting: false },
        ],
        autoPaused: [],
      },
      now,
    );
    expect(plan).toEqual([{ kind: "restore", id: "a", from: "missing" }]);
  });

  it("marks sandboxes the agent paused on its own as paused", () => {
    const rows = [sb("a", "running"), sb("b", "missing"), sb("c", "paused")];
    const plan = planReconciliation(H, rows, [], { alive: [], autoPaused: ["a", "b", "c"] }, now);
    expect(plan).toEqual([
      { kind: "mark_paused", id: "a", from: "running" },
      { kind: "mark_paused", id: "b", from: "missing" },
    ]);
  });

  it("marks running sandboxes the agent has no trace of as lost, once settled", () => {
    const rows = [
      sb("a", "running"),
      sb("b", "running", { lastUpdated: fresh }),
      sb("c", "paused"),
      sb("d", "stopped"),
    ];
    const plan = planReconciliation(H, rows, [], { alive: [], autoPaused: [] }, now);
    expect(plan).toEqual([{ kind: "mark_lost", id: "a", from: "running" }]);
  });

  it("destroys VMs the database does not place on this host as live", () => {
    const reported = [
      sb("stopped", "stopped"),
      sb("elsewhere", "running", { hostId: "host-b" }),
      sb("mine", "running"),
    ];
    const plan = planReconciliation(
      H,
      [sb("mine", "running")],
      reported,
      {
        alive: [
          { id: "stopped", starting: false },
          { id: "elsewhere", starting: false },
          { id: "unknown", starting: false },
          { id: "mine", starting: false },
        ],
        autoPaused: [],
      },
      now,
    );
    expect(plan).toEqual([
      { kind: "destroy_orphan", id: "stopped" },
      { kind: "destroy_orphan", id: "elsewhere" },
      { kind: "destroy_orphan", id: "unknown" },
    ]);
  });

  it("spares a starting VM without a row (its create may still be writing it) and in-flight creates", () => {
    const rows = [sb("a", "starting", { lastUpdated: fresh })];
    const plan = planReconciliation(
      H,
      rows,
      rows,
      {
        alive: [
          { id: "a", starting: true },
          { id: "new", starting: true },
        ],
        autoPaused: [],
      },
      now,
    );
    expect(plan).toEqual([]);
  });

  it("trusts a live VM over a settled paused or starting row", () => {
    const rows = [sb("p", "paused"), sb("s", "starting")];
    const plan = planReconciliation(
      H,
      rows,
      rows,
      {
        alive: [
          { id: "p", starting: false },
          { id: "s", starting: false },
        ],
        autoPaused: [],
      },
      now,
    );
    expect(plan).toEqual([
      { kind: "restore", id: "p", from: "paused" },
      { kind: "restore", id: "s", from: "starting" },
    ]);
  });
});

describe("planFromHeartbeat", () => {
  it("settles only what the report proves at once: auto-pauses and missing sandboxes still running", () => {
    const rows = [
      sb("paused-by-agent", "running", { lastUpdated: fresh }),
      sb("back", "missing"),
      sb("gone", "running"),
      sb("stale-starting", "starting"),
    ];
    const plan = planFromHeartbeat(
      H,
      rows,
      {
        alive: [
          { id: "back", starting: false },
          { id: "stale-starting", starting: false },
          { id: "orphan", starting: false },
        ],
        autoPaused: ["paused-by-agent"],
      },
      now,
    );
    expect(plan).toEqual([
      { kind: "mark_paused", id: "paused-by-agent", from: "running" },
      { kind: "restore", id: "back", from: "missing" },
    ]);
  });
});
