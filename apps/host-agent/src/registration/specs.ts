import { statfs } from "node:fs/promises";
import { arch, availableParallelism, totalmem } from "node:os";

/** What a host reports about itself when it registers (the control plane's `RegisterHostRequest`). */
export interface HostSpecs {
  /** `x86_64` or `aarch64` (kernel naming, not Node's). */
  arch: string;
  cpuCount: number;
  memoryMb: number;
  /** Capacity of the file system holding the data directory, GiB. */
  diskGb: number;
}

const archNames: Record<string, string> = { x64: "x86_64", arm64: "aarch64" };

/** Detects this machine's architecture, CPUs, memory and the data directory's disk size. */
export async function detectHostSpecs(dataDir: string): Promise<HostSpecs> {
  const fs = await statfs(dataDir);
  return {
    arch: archNames[arch()] ?? arch(),
    cpuCount: availableParallelism(),
    memoryMb: Math.floor(totalmem() / (1024 * 1024)),
    diskGb: Math.floor((fs.blocks * fs.bsize) / 1024 ** 3),
  };
}
