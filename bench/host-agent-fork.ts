/**
 * Fork benchmark on real QEMU microVMs, every figure from one run: how long a running
 * sandbox is stopped by a fork (the agent's measure, stop → continue), how long after the
 * ForkSandbox call the forks answer (the RPC waits for every fork's envd), N=4 forks against
 * N=1 (the source idle, then running a loop every fork inherits), and the unique memory
 * (Private_Clean + Private_Dirty of the VMM process) of an idle fork against a sandbox cloned from the template (idle, and running the source's loop), split
 * into guest RAM, translation cache and the rest of QEMU, plus a create from the template as
 * the yardstick of the same run. `LOG_LEVEL=info` shows each fork's phases.
 *
 *   flock /tmp/wrenn-vm.lock node --import tsx bench/host-agent-fork.ts   (BENCH_RUNS=5, WRENN_NETWORK=netns)
 */
import { loadavg } from "node:os";
import { report, startBenchAgent, timed } from "./host-agent-common.ts";
import { type VmMemory, vmMemory } from "./vm-memory.ts";

const RUNS = Math.max(1, Number(process.env.BENCH_RUNS || 5));
const IDLE_SETTLE_MS = Number(process.env.BENCH_IDLE_MS || 10_000);
/** The source's running process (the forks inherit it). */
const LOOP = "nohup sh -c 'while true; do date +%s%N > /tmp/tick; sleep 0.05; done' >/dev/null 2>&1 &";

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
console.log(`load average at start: ${load()}`);
const bench = await startBenchAgent();
const { client, agent } = bench;
const sh = (sandboxId: string, script: string) =>
  client.exec({
    sandboxId,
    command: { cmd: "/bin/sh", args: ["-c", script], user: "root" },
    timeoutSec: 120,
  });
try {
  // Warm-up: the first create captures the template snapshot (a cold boot), not measured.
  await client.createSandbox({ sandboxId: "warm", teamId: "bench", templateId: "minimal" });
  await client.destroySandbox({ sandboxId: "warm" });
  const create: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    create.push(
      await timed(() =>
        client.createSandbox({ sandboxId: `c-${i}`, teamId: "bench", templateId: "minimal" }),
      ),
    );
    await client.destroySandbox({ sandboxId: `c-${i}` });
  }

  // The source has done some work: 64 MiB of data in RAM; first it sits idle, then it runs a
  // process that keeps running (every fork inherits it, so N forks are N more busy guests).
  await client.createSandbox({ sandboxId: "src", teamId: "bench", templateId: "minimal" });
  await sh("src", "head -c 64M /dev/urandom > /dev/shm/blob");

  let n = 0;
  const fork = async (count: number, into: number[], stoppedInto: number[]) => {
    const ids = Array.from({ length: count }, () => `f-${n++}`);
    const ms = await timed(async () => {
      const res = await client.forkSandbox({
        sandboxId: "src",
        forks: ids.map((sandboxId) => ({ sandboxId })),
      });
      stoppedInto.push(res.sourceStoppedMs);
    });
    into.push(ms);
    return ids;
  };
  const rounds = async (one: number[], four: number[], stoppedInto: number[]) => {
    for (let i = 0; i < RUNS; i++) {
      for (const id of await fork(1, one, stoppedInto)) await client.destroySandbox({ sandboxId: id });
      for (const id of await fork(4, four, stoppedInto)) await client.destroySandbox({ sandboxId: id });
    }
  };
  const idleStopped: number[] = [];
  const idleOne: number[] = [];
  const idleFour: number[] = [];
  await rounds(idleOne, idleFour, idleStopped);

  await sh("src", LOOP);
  const stopped: number[] = [];
  const one: number[] = [];
  const four: number[] = [];
  await rounds(one, four, stopped);

  // Idle memory: two forks of the source (the first restored over the template's RAM file
  // from the pages the source changed, the second mapping the converted RAM file), a clone of
  // the template left idle, one running the source's loop (the forks run it too: its processes
  // and translations count), and one doing what the source did (64 MiB of data, the loop).
  const forks = await fork(2, [], []);
  for (const id of ["clone-idle", "clone-loop", "clone-same"]) {
    await client.createSandbox({ sandboxId: id, teamId: "bench", templateId: "minimal" });
  }
  await sh("clone-loop", LOOP);
  await sh("clone-same", `head -c 64M /dev/urandom > /dev/shm/blob; ${LOOP}`);
  await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
  const guestBytes = agent.config.templateMemoryMb * 1024 ** 2;
  const mem = async (id: string) => vmMemory(agent.manager.get(id).pid as number, guestBytes);
  const vms: [string, string][] = [
    ["first fork (changed pages)", forks[0] as string],
    ["second fork (converted RAM file)", forks[1] as string],
    ["template clone, idle", "clone-idle"],
    ["template clone running the loop", "clone-loop"],
    ["clone with 64 MiB + the loop", "clone-same"],
  ];
  const memory = new Map<string, VmMemory>();
  for (const [, id] of vms) memory.set(id, await mem(id));
  console.log(`\n${RUNS} runs each; source: 512 MB guest holding 64 MiB of data`);
  const c = report("create from template (yardstick)", create);
  const series = (title: string, stoppedMs: number[], oneMs: number[], fourMs: number[]) => {
    console.log(title);
    report("  source stopped by a fork", stoppedMs);
    const f1 = report("  fork N=1: call → fork answering", oneMs);
    const f4 = report("  fork N=4: call → all 4 answering", fourMs);
    console.log(
      `  N=4 / N=1 (median): ${(f4.median / f1.median).toFixed(2)}×; N=1 / create: ${(f1.median / c.median).toFixed(2)}×`,
    );
  };
  series("— source idle (64 MiB of data, no process running):", idleStopped, idleOne, idleFour);
  series("— source running the loop (every fork runs it too):", stopped, one, four);
  console.log(
    "unique MiB = guest RAM copied (anonymous) + RAM-file pages only it maps / translation cache / rest of QEMU; marginal = unique less those file pages:",
  );
  const f = (v: number) => v.toFixed(1);
  const marginal = (m: VmMemory) => m.uniqueMb - (m.guestMb - m.guestAnonMb);
  for (const [name, id] of vms) {
    const m = memory.get(id) as VmMemory;
    console.log(
      `  ${name.padEnd(32)} ${f(m.uniqueMb)} = ${f(m.guestAnonMb)} + ${f(m.guestMb - m.guestAnonMb)} / ${f(m.tcgMb)} / ${f(m.otherMb)}; marginal ${f(marginal(m))}`,
    );
  }
  const ratio = (a: string, b: string, of: (m: VmMemory) => number) =>
    (of(memory.get(a) as VmMemory) / of(memory.get(b) as VmMemory)).toFixed(2);
  const unique = (m: VmMemory) => m.uniqueMb;
  for (const [name, of] of [
    ["unique", unique],
    ["marginal", marginal],
  ] as const) {
    console.log(
      `${name}: second fork / idle clone ${ratio(forks[1] as string, "clone-idle", of)}×, / looping clone ${ratio(forks[1] as string, "clone-loop", of)}×; first fork / idle clone ${ratio(forks[0] as string, "clone-idle", of)}×, / looping clone ${ratio(forks[0] as string, "clone-loop", of)}×, / clone doing the same ${ratio(forks[0] as string, "clone-same", of)}×`,
    );
  }
  console.log(`load average at end: ${load()}`);
} finally {
  await bench.close();
}
