/**
 * Background saves for forks, on real QEMU microVMs, both ways alternating in one run: a fork of
 * a source whose RAM QEMU can write-protect (the second fork of a two-fork call, which maps the
 * converted RAM file on the tmpfs), its RAM written as a background snapshot (the source runs
 * again after the disk copy and the device state) against the default stop-the-world save.
 * Prints how long the source was stopped and how long the call took until the fork answered,
 * for an idle source and for one running a busy loop (`BENCH_BUSY=1`).
 *
 *   flock /tmp/wrenn-vm.lock node --import tsx bench/host-agent-fork-background.ts   (BENCH_RUNS=6)
 */
import { loadAverage, RUNS, report, startBenchAgent, timed } from "./host-agent-common.ts";

process.env.WRENN_WARM_POOL ??= "0";
const BUSY = process.env.BENCH_BUSY === "1";
console.log(`load average at start: ${loadAverage()}`);
const bench = await startBenchAgent();
const { client, agent } = bench;
try {
  // The source: the second fork of a clone (its RAM is a private mapping of a tmpfs file).
  await client.createSandbox({ sandboxId: "clone", teamId: "bench", templateId: "minimal" });
  await agent.manager.fork("clone", [{ sandboxId: "first" }, { sandboxId: "src" }]);
  await client.destroySandbox({ sandboxId: "clone" });
  await client.destroySandbox({ sandboxId: "first" });
  const busy = BUSY ? "; nohup sh -c 'while :; do :; done' >/dev/null 2>&1 &" : "";
  await client.exec({
    sandboxId: "src",
    command: {
      cmd: "/bin/sh",
      args: ["-c", `head -c 64M /dev/urandom > /dev/shm/blob${busy}`],
      user: "root",
    },
  });
  const modes = { background: true, stopped: false } as const;
  const stopped = { background: [] as number[], stopped: [] as number[] };
  const answered = { background: [] as number[], stopped: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 === 0 ? (["background", "stopped"] as const) : (["stopped", "background"] as const);
    for (const mode of order) {
      const id = `fork-${mode}-${i}`;
      let result: Awaited<ReturnType<typeof agent.manager.fork>> | undefined;
      answered[mode].push(
        await timed(async () => {
          result = await agent.manager.fork("src", [{ sandboxId: id }], { backgroundSave: modes[mode] });
        }),
      );
      if (result?.sourceRanDuringSave !== modes[mode]) {
        throw new Error(`${mode}: the source ${result?.sourceRanDuringSave ? "ran" : "stayed stopped"}`);
      }
      stopped[mode].push(result.sourceStoppedMs);
      await client.destroySandbox({ sandboxId: id });
    }
  }
  console.log(
    `\n${RUNS} forks each way; source: 512 MB guest, 64 MiB of data${BUSY ? ", a busy loop" : ", idle"}`,
  );
  const bgStop = report("background save: source stopped", stopped.background);
  const bgCall = report("background save: call → fork answering", answered.background);
  const stwStop = report("stopped for the save: source stopped", stopped.stopped);
  const stwCall = report("stopped for the save: call → fork answering", answered.stopped);
  console.log(
    `background / stopped (median): source stopped ${(bgStop.median / stwStop.median).toFixed(2)}×, fork answering ${(bgCall.median / stwCall.median).toFixed(2)}×`,
  );
  console.log(`load average at end: ${loadAverage()}`);
} finally {
  await bench.close();
}
