/**
 * Host-agent density benchmark on real QEMU microVMs: N sandboxes (default 20)
 * created from the template snapshot and kept running at once; then, once they
 * idle, the resident memory of every VM process — total (VmRSS) and unique
 * (Private_Clean + Private_Dirty from /proc/<pid>/smaps_rollup, i.e. not shared
 * with the template's page cache or other VMs) — and a liveness check of all.
 *
 *   node --import tsx bench/host-agent-density.ts      (BENCH_SANDBOXES=20, WRENN_NETWORK=netns)
 */
import { readFile } from "node:fs/promises";
import { report, startBenchAgent, timed } from "./host-agent-common.ts";

const COUNT = Math.max(1, Number(process.env.BENCH_SANDBOXES || 20));
const IDLE_MS = Number(process.env.BENCH_IDLE_MS || 10_000);

async function memoryOf(pid: number): Promise<{ rssMb: number; uniqueMb: number }> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? 0);
  return { rssMb: kb("Rss") / 1024, uniqueMb: (kb("Private_Clean") + kb("Private_Dirty")) / 1024 };
}

const bench = await startBenchAgent();
const { client, agent } = bench;
try {
  await client.createSandbox({ sandboxId: "warm", teamId: "bench", templateId: "minimal" });
  await client.destroySandbox({ sandboxId: "warm" });

  const create: number[] = [];
  const started = performance.now();
  for (let i = 0; i < COUNT; i++) {
    create.push(
      await timed(() =>
        client.createSandbox({ sandboxId: `d-${i}`, teamId: "bench", templateId: "minimal" }),
      ),
    );
  }
  const allUpMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, IDLE_MS));

  const rss: number[] = [];
  const unique: number[] = [];
  for (const s of agent.manager.list().sandboxes) {
    if (!s.pid) continue;
    const m = await memoryOf(s.pid);
    rss.push(m.rssMb);
    unique.push(m.uniqueMb);
  }
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
  console.log(`\nhost-agent density: ${COUNT} sandboxes of 512 MB (${agent.config.network} networking)`);
  report("create (while the others keep running)", create);
  console.log(
    `${"all running after".padEnd(44)} ${(allUpMs / 1000).toFixed(1)} s; ${answered}/${COUNT} answered exec`,
  );
  report("RSS per idle sandbox (total)", rss, "MB");
  report("RSS per idle sandbox (unique)", unique, "MB");
  report("exec `true` with all running", exec);
  const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
  console.log(`${"sum of RSS / unique".padEnd(44)} ${sum(rss).toFixed(0)} MB / ${sum(unique).toFixed(0)} MB`);
} finally {
  await bench.close();
}
