/**
 * Host-agent density benchmark on real QEMU microVMs: N sandboxes (default 20)
 * created from the template snapshot and kept running at once. Measures create
 * latency with none running and with all N running (the ratio is the density
 * target), the memory of every VM once they idle — total (Rss) and unique
 * (Private_Clean + Private_Dirty from /proc/<pid>/smaps, i.e. not shared with the
 * template's page cache, other VMs or KSM), split into guest RAM, translation cache
 * and the rest of QEMU —, the CPU the idle VMs burn, and an exec in every one.
 *
 *   node --import tsx bench/host-agent-density.ts
 *   (BENCH_SANDBOXES=20, BENCH_PROBES=5 creates measured empty and full, BENCH_IDLE_MS=10000,
 *    WRENN_NETWORK=netns, WRENN_WARM_POOL=0 so creates take the unpooled path)
 */
import { loadAverage, report, startBenchAgent, timed } from "./host-agent-common.ts";
import { cpuMs, ksmState, type VmMemory, vmMemory } from "./vm-memory.ts";

const COUNT = Math.max(1, Number(process.env.BENCH_SANDBOXES || 20));
const PROBES = Math.max(1, Number(process.env.BENCH_PROBES || 5));
const IDLE_MS = Number(process.env.BENCH_IDLE_MS || 10_000);
const CPU_WINDOW_MS = 5_000;
// Pooled VMs would make the creates measure the pool, not the restore path this bench is about.
process.env.WRENN_WARM_POOL ??= "0";

const loadAtStart = loadAverage();
const bench = await startBenchAgent();
const { client, agent } = bench;
const create = (sandboxId: string) =>
  timed(() => client.createSandbox({ sandboxId, teamId: "bench", templateId: "minimal" }));

/** Creates and destroys `PROBES` sandboxes one after the other; the create times. */
async function probe(prefix: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < PROBES; i++) {
    times.push(await create(`${prefix}-${i}`));
    await client.destroySandbox({ sandboxId: `${prefix}-${i}` });
  }
  return times;
}

try {
  // The first create captures the template snapshot (a cold boot): not measured.
  await create("warm");
  await client.destroySandbox({ sandboxId: "warm" });
  const createEmpty = await probe("empty");

  const fill: number[] = [];
  const started = performance.now();
  for (let i = 0; i < COUNT; i++) fill.push(await create(`d-${i}`));
  const allUpMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, IDLE_MS));

  const pids = agent.manager
    .list()
    .sandboxes.map((s) => s.pid)
    .filter((p): p is number => p !== undefined);
  // CPU the idle VMs (and this process: agent + bench client) use over a quiet window.
  const vmCpuBefore = await Promise.all(pids.map(cpuMs));
  const selfBefore = process.cpuUsage();
  await new Promise((r) => setTimeout(r, CPU_WINDOW_MS));
  const vmCpuAfter = await Promise.all(pids.map(cpuMs));
  const self = process.cpuUsage(selfBefore);
  const idleCpu = pids.map((_, i) => ((vmCpuAfter[i] ?? 0) - (vmCpuBefore[i] ?? 0)) / (CPU_WINDOW_MS / 100));

  const guestBytes = agent.config.templateMemoryMb * 1024 * 1024;
  const memory: VmMemory[] = [];
  for (const pid of pids) memory.push(await vmMemory(pid, guestBytes));
  const ksm = await ksmState();

  const createFull = await probe("full");

  const exec: number[] = [];
  let answered = 0;
  for (let i = 0; i < COUNT; i++) {
    exec.push(
      await timed(async () => {
        const r = await client.exec({ sandboxId: `d-${i}`, command: { cmd: "true" } });
        if (r.exitCode === 0) answered++;
      }),
    );
  }

  const col = (k: keyof VmMemory) => memory.map((m) => m[k]);
  const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
  console.log(
    `\nhost-agent density: ${COUNT} sandboxes of ${agent.config.templateMemoryMb} MB ` +
      `(${agent.config.network} networking, translation cache ${agent.config.tcgTbSizeMb} MiB)`,
  );
  const empty = report("create with none running", createEmpty);
  report(`create while filling up to ${COUNT}`, fill);
  const full = report(`create with ${COUNT} running`, createFull);
  console.log(`${"ratio create p50 full / empty".padEnd(44)} ${(full.median / empty.median).toFixed(2)}`);
  console.log(
    `${"all running after".padEnd(44)} ${(allUpMs / 1000).toFixed(1)} s; ${answered}/${COUNT} answered exec`,
  );
  report("RSS per idle sandbox (total)", col("rssMb"), "MB");
  report("RSS per idle sandbox (unique)", col("uniqueMb"), "MB");
  report("  unique: guest RAM written", col("guestMb"), "MB");
  report("  unique: translation cache", col("tcgMb"), "MB");
  report("  unique: rest of QEMU", col("otherMb"), "MB");
  report("  KSM-merged (not in unique)", col("ksmMb"), "MB");
  report("  transparent huge pages", col("hugeMb"), "MB");
  report("idle CPU per sandbox (% of a core)", idleCpu, "%");
  console.log(
    `${"idle CPU all VMs / agent+bench".padEnd(44)} ${sum(idleCpu).toFixed(0)} % / ` +
      `${((self.user + self.system) / 10 / CPU_WINDOW_MS).toFixed(0)} % of a core`,
  );
  report("exec `true` with all running", exec);
  console.log(
    `${"sum of RSS / unique".padEnd(44)} ${sum(col("rssMb")).toFixed(0)} MB / ${sum(col("uniqueMb")).toFixed(0)} MB`,
  );
  if (ksm) {
    console.log(
      `${"KSM (run / shared / saved)".padEnd(44)} ${ksm.run} / ${ksm.sharedMb.toFixed(0)} MB / ${ksm.savedMb.toFixed(0)} MB`,
    );
  }
} finally {
  await bench.close();
  console.log(`${"load average start → end".padEnd(44)} ${loadAtStart} → ${loadAverage()}`);
}
