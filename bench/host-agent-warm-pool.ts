/**
 * Warm pool benchmark on real QEMU microVMs: the CreateSandbox RPC (until envd answers with
 * the new sandbox's identity) when a warm VM of the template is ready, against today's path
 * (restore from the template snapshot) in the same run, interleaved. Before every measured
 * create the pool has finished refilling, so no background restore competes with either.
 * The unpooled creates ask for 1024 MB, which the pool (the template's 512 MB VMs) cannot
 * serve: they take the restore path and, as every create, get the template's 512 MB.
 * Prints median / p95, the ratio and the load average.
 *
 *   node --import tsx bench/host-agent-warm-pool.ts      (BENCH_RUNS=20, WRENN_NETWORK=netns)
 */
import { loadavg } from "node:os";
import { RUNS, report, startBenchAgent, timed } from "./host-agent-common.ts";

process.env.WRENN_WARM_POOL = "minimal=1";
const bench = await startBenchAgent();
const { client, agent } = bench;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
try {
  // Warm-up: the first create captures the template snapshot (a cold boot), not measured.
  await client.createSandbox({ sandboxId: "warm", teamId: "bench", templateId: "minimal" });
  await client.destroySandbox({ sandboxId: "warm" });
  const loadBefore = load();

  const pooled: number[] = [];
  const unpooled: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await agent.manager.warmPoolIdle();
    if (agent.manager.warmPool()[0]?.ready !== 1) throw new Error("the warm pool did not refill");
    pooled.push(
      await timed(() =>
        client.createSandbox({ sandboxId: `pooled-${i}`, teamId: "bench", templateId: "minimal" }),
      ),
    );
    await client.destroySandbox({ sandboxId: `pooled-${i}` });
    await agent.manager.warmPoolIdle();
    unpooled.push(
      await timed(() =>
        client.createSandbox({
          sandboxId: `unpooled-${i}`,
          teamId: "bench",
          templateId: "minimal",
          memoryMb: 1024,
        }),
      ),
    );
    await client.destroySandbox({ sandboxId: `unpooled-${i}` });
  }

  console.log(
    `\nwarm pool (${agent.config.network} networking), load average before ${loadBefore}, after ${load()}`,
  );
  const p = report("create with a warm VM (RPC until envd answers)", pooled);
  const u = report("create without (restore from the template)", unpooled);
  console.log(
    `ratio pooled/unpooled: median ${(p.median / u.median).toFixed(3)} (1/${(u.median / p.median).toFixed(1)}), p95 ${(p.p95 / u.p95).toFixed(3)}`,
  );
} finally {
  await bench.close();
}
