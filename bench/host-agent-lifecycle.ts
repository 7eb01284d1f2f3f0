/**
 * Host-agent lifecycle benchmark on real QEMU microVMs, every figure from one run:
 * create from the template snapshot (CreateSandbox RPC until envd answers, which the
 * RPC waits for), cold boot of the same image (QEMU start until envd answers), pause,
 * resume, and exec of `true` through the agent. Prints median / p95 and the ratios.
 *
 *   node --import tsx bench/host-agent-lifecycle.ts      (BENCH_RUNS=20, WRENN_NETWORK=netns)
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { createOverlay, EnvdClient, QemuMicrovmDriver } from "@wrenn/host-agent";
import { RUNS, report, startBenchAgent, timed } from "./host-agent-common.ts";
import { vmMemory } from "./vm-memory.ts";

// Creates here measure the restore path (bench/host-agent-warm-pool.ts measures the warm pool).
process.env.WRENN_WARM_POOL ??= "0";
const bench = await startBenchAgent();
const { client, agent } = bench;
try {
  // Warm-up: the first create captures the template snapshot (a cold boot), not measured.
  const warm = await timed(() =>
    client.createSandbox({ sandboxId: "warm", teamId: "bench", templateId: "minimal" }),
  );
  console.log(`template capture + first create: ${warm.toFixed(0)} ms`);
  const gen = agent.manager.get("warm").generationDir;
  await client.destroySandbox({ sandboxId: "warm" });

  const create: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const id = `create-${i}`;
    create.push(
      await timed(() => client.createSandbox({ sandboxId: id, teamId: "bench", templateId: "minimal" })),
    );
    await client.destroySandbox({ sandboxId: id });
  }

  // Cold boot of the template's own disk image (same kernel, initrd, machine, network kind).
  const driver = new QemuMicrovmDriver({ probeKernel: join(gen, "vmlinuz"), accel: agent.config.accel });
  const cold: number[] = [];
  const coldRuns = Number(process.env.BENCH_COLD_RUNS || RUNS);
  for (let i = 0; i < coldRuns; i++) {
    const dir = join(bench.dataDir, `cold-${i}`);
    await mkdir(dir, { recursive: true });
    await createOverlay(join(gen, "rootfs.img"), "raw", join(dir, "disk.qcow2"), 5120 * 1024 * 1024);
    const lease = await agent.manager.network.acquire(`cold-${i}`);
    try {
      cold.push(
        await timed(async () => {
          const vm = await driver.boot({
            id: `cold-${i}`,
            runDir: dir,
            kernel: join(gen, "vmlinuz"),
            initrd: join(gen, "initrd.img"),
            kernelArgs: "quiet rootfstype=ext4 wrenn.ip=169.254.0.21/30 wrenn.gw=169.254.0.22",
            rootDisk: { path: join(dir, "disk.qcow2"), format: "qcow2" },
            vcpus: 1,
            memoryMb: 512,
            memory: { kind: "anonymous" },
            network: lease.attachment,
          });
          try {
            const { host, port } = lease.attachment.envdEndpoint;
            await new EnvdClient(host, port, undefined).waitHealthy(180_000, () => vm.alive);
          } finally {
            await vm.kill();
          }
        }),
      );
    } finally {
      await lease.release();
      await rm(dir, { recursive: true, force: true });
    }
  }

  // Pause / resume cycles of one 512 MB sandbox that has done some work.
  await client.createSandbox({ sandboxId: "cycle", teamId: "bench", templateId: "minimal" });
  await client.exec({
    sandboxId: "cycle",
    command: { cmd: "/bin/sh", args: ["-c", "head -c 64M /dev/urandom > /dev/shm/blob"], user: "root" },
  });
  const pause: number[] = [];
  const resume: number[] = [];
  const pausedBytes: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let bytes = 0n;
    pause.push(
      await timed(async () => {
        bytes = (await client.pauseSandbox({ sandboxId: "cycle" })).snapshotSizeBytes;
      }),
    );
    pausedBytes.push(Number(bytes) / 1024 / 1024);
    resume.push(await timed(() => client.resumeSandbox({ sandboxId: "cycle", timeoutSec: 0 })));
  }

  // The same cycles with the sandbox left paused 2 s before each resume (untimed): the pause's
  // reduction of its state to the changed pages has ended, so the resume maps the template's
  // RAM file and loads those pages only (back to back, it restores everything into anonymous RAM).
  await client.createSandbox({ sandboxId: "gap", teamId: "bench", templateId: "minimal" });
  await client.exec({
    sandboxId: "gap",
    command: { cmd: "/bin/sh", args: ["-c", "head -c 64M /dev/urandom > /dev/shm/blob"], user: "root" },
  });
  const resumeAfterGap: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await client.pauseSandbox({ sandboxId: "gap" });
    await new Promise((r) => setTimeout(r, 2000));
    resumeAfterGap.push(await timed(() => client.resumeSandbox({ sandboxId: "gap", timeoutSec: 0 })));
  }

  const exec: number[] = [];
  for (let i = 0; i < Math.max(RUNS, 50); i++) {
    exec.push(await timed(() => client.exec({ sandboxId: "cycle", command: { cmd: "true" } })));
  }
  // Memory of the resumed sandbox against a clone that did the same (64 MiB written, the execs).
  await client.createSandbox({ sandboxId: "same", teamId: "bench", templateId: "minimal" });
  await client.exec({
    sandboxId: "same",
    command: { cmd: "/bin/sh", args: ["-c", "head -c 64M /dev/urandom > /dev/shm/blob"], user: "root" },
  });
  for (let i = 0; i < Math.max(RUNS, 50); i++)
    await client.exec({ sandboxId: "same", command: { cmd: "true" } });
  const guestBytes = agent.config.templateMemoryMb * 1024 ** 2;
  for (let i = 0; i < Math.max(RUNS, 50); i++)
    await client.exec({ sandboxId: "gap", command: { cmd: "true" } });
  const [resumedMem, gapMem, cloneMem] = [
    await vmMemory(agent.manager.get("cycle").pid as number, guestBytes),
    await vmMemory(agent.manager.get("gap").pid as number, guestBytes),
    await vmMemory(agent.manager.get("same").pid as number, guestBytes),
  ];
  await client.destroySandbox({ sandboxId: "same" });
  await client.destroySandbox({ sandboxId: "gap" });
  await client.destroySandbox({ sandboxId: "cycle" });

  const fp = await driver.fingerprint();
  console.log(`\nhost-agent lifecycle (${agent.config.network} networking, ${fp.accel}, ${fp.version})`);
  const c = report("create from template (RPC until envd answers)", create);
  const b = report("cold boot (QEMU start until envd answers)", cold);
  report("pause (512 MB guest, 64 MB of it dirty)", pause);
  report("resume (right after the pause)", resume);
  report("resume (2 s after the pause)", resumeAfterGap);
  report("pause state on disk", pausedBytes, "MB");
  report("exec `true` through the agent", exec);
  const mem = (m: typeof resumedMem) =>
    `${m.uniqueMb.toFixed(1)} MiB unique (guest RAM copied ${m.guestAnonMb.toFixed(1)}, translation cache ${m.tcgMb.toFixed(1)}, rest ${m.otherMb.toFixed(1)})`;
  console.log(`resumed right after each pause (${RUNS} cycles): ${mem(resumedMem)}`);
  console.log(`resumed 2 s after each pause (${RUNS} cycles): ${mem(gapMem)}`);
  console.log(`clone that did the same: ${mem(cloneMem)}`);
  console.log(
    `ratios to that clone: right after ${(resumedMem.uniqueMb / cloneMem.uniqueMb).toFixed(2)}×, 2 s after ${(gapMem.uniqueMb / cloneMem.uniqueMb).toFixed(2)}×`,
  );
  console.log(
    `ratio create/cold boot: median ${(c.median / b.median).toFixed(3)}  (1/${(b.median / c.median).toFixed(1)})`,
  );
} finally {
  await bench.close();
}
