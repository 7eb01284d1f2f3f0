/**
 * How an idle sandbox's cost grows over time, on real QEMU microVMs: a few sandboxes created
 * from the template (pool off), then every 5 s for `BENCH_IDLE_S` seconds the CPU each VM used
 * in that window and its unique memory (Private_Clean + Private_Dirty of the QEMU process),
 * split into guest RAM written since the restore, translation cache and the rest of QEMU; then
 * a few execs and the same figures after them. A step in the timeline is guest work that runs
 * once after some time (a garbage collection, a kernel timer), which a single sample at a fixed
 * idle time would hide or catch by chance.
 *
 *   flock /tmp/wrenn-vm.lock node --import tsx bench/host-agent-idle.ts
 *   (BENCH_SANDBOXES=3, BENCH_IDLE_S=60, BENCH_EXEC_ROUNDS=5, WRENN_NETWORK=netns)
 */
import { loadAverage, report, startBenchAgent, timed } from "./host-agent-common.ts";
import { cpuMs, vmMemory } from "./vm-memory.ts";

const COUNT = Math.max(1, Number(process.env.BENCH_SANDBOXES || 3));
const IDLE_S = Math.max(5, Number(process.env.BENCH_IDLE_S || 60));
const EXEC_ROUNDS = Math.max(1, Number(process.env.BENCH_EXEC_ROUNDS || 5));
const WINDOW_MS = 5_000;
// Pooled VMs would be older than the sandboxes measured, and not created by the bench.
process.env.WRENN_WARM_POOL ??= "0";

const loadAtStart = loadAverage();
const bench = await startBenchAgent();
const { client, agent } = bench;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const create = (sandboxId: string) =>
  timed(() => client.createSandbox({ sandboxId, teamId: "bench", templateId: "minimal" }));
const list = (values: number[], digits = 1) => values.map((v) => v.toFixed(digits)).join(" ");

try {
  // The first create captures the template snapshot (a cold boot): not measured.
  await create("warm");
  await client.destroySandbox({ sandboxId: "warm" });
  const creates: number[] = [];
  for (let i = 0; i < COUNT; i++) creates.push(await create(`idle-${i}`));
  const pids = agent.manager
    .list()
    .sandboxes.map((s) => s.pid)
    .filter((p): p is number => p !== undefined);
  const guestBytes = agent.config.templateMemoryMb * 1024 * 1024;

  console.log(
    `\nhost-agent idle timeline: ${COUNT} sandboxes of ${agent.config.templateMemoryMb} MB ` +
      `(${agent.config.network} networking, translation cache ${agent.config.tcgTbSizeMb} MiB); ` +
      "per sandbox: CPU % of a core in the window, unique MB (guest / translation cache / rest of QEMU)",
  );
  /** One window: CPU over it, memory at its end. */
  const sample = async (label: string) => {
    const before = await Promise.all(pids.map(cpuMs));
    await sleep(WINDOW_MS);
    const after = await Promise.all(pids.map(cpuMs));
    const memory = await Promise.all(pids.map((pid) => vmMemory(pid, guestBytes)));
    const cpu = pids.map((_, i) => ((after[i] ?? 0) - (before[i] ?? 0)) / (WINDOW_MS / 100));
    console.log(
      `${label.padEnd(12)} cpu ${list(cpu)}  unique ${list(memory.map((m) => m.uniqueMb))}  ` +
        `(guest ${list(memory.map((m) => m.guestMb))} / tcg ${list(
          memory.map((m) => m.tcgMb),
          0,
        )} / ` +
        `rest ${list(memory.map((m) => m.otherMb))})`,
    );
  };
  for (let t = 0; t < IDLE_S; t += WINDOW_MS / 1000) await sample(`${t}-${t + WINDOW_MS / 1000} s`);
  const exec: number[] = [];
  for (let round = 0; round < EXEC_ROUNDS; round++) {
    for (let i = 0; i < COUNT; i++) {
      exec.push(await timed(() => client.exec({ sandboxId: `idle-${i}`, command: { cmd: "true" } })));
    }
  }
  await sample("after execs");
  console.log();
  report("create (pool off)", creates);
  report(`exec \`true\` (${EXEC_ROUNDS} rounds)`, exec);
} finally {
  await bench.close();
  console.log(`${"load average start → end".padEnd(44)} ${loadAtStart} → ${loadAverage()}`);
}
