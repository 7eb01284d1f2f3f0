import { getSandboxesByIds, type Sandbox, setSandboxDeadline } from "@wrenn/db";
import { createTestApp, insertOnlineHost, insertSandbox, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HostClientPool } from "../hosts/pool.ts";
import { LeastLoadedScheduler } from "../hosts/scheduler.ts";
import { AuditLogger } from "../services/audit.ts";
import { SandboxesService } from "../services/sandboxes.ts";
import { SandboxDeadlines } from "./deadlines.ts";

// E2B's end times on real PostgreSQL through the app's own SandboxDeadlines and SandboxesService.
// The sandboxes here have no host (host_id NULL), so killing one needs no agent; pausing at the
// end time on a real VM is covered by e2b-sdk.vm.test.ts.
let t: TestApp;
let teamId: string;
let hostId: string;

async function row(state: "running" | "paused", deadline?: Parameters<typeof setSandboxDeadline>[3]) {
  const id = await insertSandbox(t, { teamId, hostId, state });
  await t.db.pool.query("UPDATE sandboxes SET host_id = NULL WHERE id = $1", [id]);
  if (deadline) await setSandboxDeadline(t.db.db, teamId, id, deadline);
  return fresh(id);
}

async function fresh(id: string): Promise<Sandbox> {
  const [found] = await getSandboxesByIds(t.db.db, [id]);
  if (!found) throw new Error(`no sandbox ${id}`);
  return found;
}

beforeAll(async () => {
  t = await createTestApp();
  const user = await signupUser(t.app);
  teamId = user.team.id.slice("team-".length);
  hostId = await insertOnlineHost(t);
});

afterAll(async () => {
  await t?.cleanup();
});

describe("SandboxDeadlines", () => {
  it("moves the end time as E2B does: set anew by reset, only pushed later by extend", async () => {
    let now = new Date("2030-01-01T00:00:00Z");
    // The app's pass gives the real service; this one only adds a clock to move the end times by.
    const sandboxes = new SandboxesService({
      db: t.db.db,
      pool: new HostClientPool(),
      scheduler: new LeastLoadedScheduler(),
      audit: new AuditLogger(t.db.db, t.log),
      log: t.log,
    });
    const deadlines = new SandboxDeadlines({ db: t.db.db, sandboxes, log: t.log, now: () => now });
    const at = (s: number) => new Date(now.getTime() + s * 1000);
    let s = await deadlines.begin(await row("running"), 60, { onTimeout: "pause", autoResume: false });
    expect(s).toMatchObject({ endAt: at(60), onTimeout: "pause", autoResume: false });
    expect(SandboxDeadlines.governs(s)).toBe(true);
    s = await deadlines.extend(s, 30, false); // connect with a shorter timeout never shortens
    expect(s.endAt).toEqual(at(60));
    s = await deadlines.extend(s, 120, false);
    expect(s.endAt).toEqual(at(120));
    s = await deadlines.reset(s, 10); // setTimeout may shorten
    expect(s.endAt).toEqual(at(10));
    now = new Date(now.getTime() + 5000);
    s = await deadlines.extend(s, 1, true); // just resumed: exactly the new one
    expect(s.endAt).toEqual(at(1));
    s = await deadlines.reset(s, 0);
    expect(s.endAt).toBeNull();
    expect(await deadlines.extend(s, 30, false)).toMatchObject({ endAt: null }); // no end stays none
    expect(SandboxDeadlines.governs(await row("running"))).toBe(false); // /v1: inactivity timer
  });

  it("ends running sandboxes past their end time, and only those", async () => {
    const past = new Date(Date.now() - 1000);
    const due = await row("running", { endAt: past, onTimeout: "kill", autoResume: false });
    const later = await row("running", { endAt: new Date(Date.now() + 600_000), onTimeout: "kill" });
    const paused = await row("paused", { endAt: past, onTimeout: "kill" });
    const native = await row("running");

    const ended = await t.app.e2bDeadlines.tick();
    expect(ended).toContain(due.id);
    for (const other of [later, paused, native]) expect(ended).not.toContain(other.id);
    // Killed: stopped, and no end time left (cleared when it stopped running).
    expect(await fresh(due.id)).toMatchObject({ state: "stopped", endAt: null });
    expect((await fresh(later.id)).state).toBe("running");
    expect(await t.app.e2bDeadlines.tick()).not.toContain(due.id);
  });
});
