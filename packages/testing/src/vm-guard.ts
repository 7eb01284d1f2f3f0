import { readFileSync } from "node:fs";
import { basename } from "node:path";
import {
  killQemu,
  type QemuProcess,
  qemuProcesses,
  removedAnything,
  removeNetworks,
  TEST_SLOT_REGION,
  testTempRoots,
  waitForExit,
} from "./vms.ts";

// Global setup of the vitest `vm` project (vitest.config.ts): after the last VM test file, no
// QEMU a test started may still run. Only VMs whose run directory lies under the temp
// directory count — a `wrenn up` keeps its VMs under /var/lib/wrenn (or its --data-dir) and
// is never touched; the QMP socket of a deep template run dir may sit in /tmp, which is why
// the run directory (from the console path), not any argument, decides.

const key = (p: QemuProcess) => `${p.pid}:${p.startTime}`;
let before = new Set<string>();

/** QEMU processes whose run directory lies under a test temp root. */
function testQemu(): QemuProcess[] {
  const roots = testTempRoots().map((r) => `${r.replace(/\/+$/, "")}/`);
  return qemuProcesses().filter((p) => roots.some((r) => p.runDir.startsWith(r)));
}

/**
 * True when no host agent is `p`'s parent any more: agents (in-process in a test worker, or
 * their own process) are Node.js, so any other parent is the reaper that inherited the VM.
 */
function agentGone(p: QemuProcess): boolean {
  let argv0 = "";
  try {
    argv0 = readFileSync(`/proc/${p.ppid}/cmdline`, "utf8").split("\0")[0] ?? "";
  } catch {
    return true;
  }
  return p.ppid <= 1 || basename(argv0) !== "node";
}

function describe(procs: QemuProcess[]): string {
  return procs.map((p) => `  pid ${p.pid} (run dir ${p.runDir})`).join("\n");
}

/**
 * Before the first VM test file: test VMs already running are listed. Those whose agent is
 * gone (nothing will ever stop them) are leftovers of an earlier run, killed;
 * the others may belong to a run still going elsewhere and are left alone.
 */
export async function setup(): Promise<void> {
  const existing = testQemu();
  const orphans = existing.filter(agentGone);
  if (orphans.length) {
    const killed = killQemu(orphans);
    await waitForExit(killed);
    process.stderr.write(`vm guard: killed QEMU left by an earlier test run:\n${describe(killed)}\n`);
  }
  const others = existing.filter((p) => !agentGone(p));
  if (others.length) {
    process.stderr.write(
      `vm guard: test QEMU already running before this run (left alone):\n${describe(others)}\n`,
    );
  }
  before = new Set(others.map(key));
}

/**
 * After the last VM test file: every test QEMU started during this run that still runs is
 * killed, the networks of the test deployments' slot region are removed, and the run fails
 * naming the VMs (a fixture or a test let them leak).
 */
export async function teardown(): Promise<void> {
  const leaked = testQemu().filter((p) => !before.has(key(p)));
  const killed = killQemu(leaked);
  await waitForExit(killed);
  const networks = await removeNetworks(TEST_SLOT_REGION);
  if (removedAnything(networks)) {
    process.stderr.write(
      `vm guard: removed test networks left behind: ${[...networks.namespaces, ...networks.links].join(", ")}` +
        ` (${networks.rules} iptables rules)\n`,
    );
  }
  if (killed.length) {
    // vitest only logs a teardown error; the exit code must say the run failed.
    process.exitCode = 1;
    throw new Error(`VM tests left QEMU running (now killed):\n${describe(killed)}`);
  }
}
