/**
 * Where a QEMU process's memory and CPU go, read from /proc: the density benchmark's
 * per-VM breakdown. Linux only.
 */
import { readFile } from "node:fs/promises";

/** Memory of one VM process in MiB, by region. "Unique" = Private_Clean + Private_Dirty. */
export interface VmMemory {
  /** VmRSS of the process (shared pages included). */
  rssMb: number;
  /** Pages no other process maps: what this VM alone costs the host. */
  uniqueMb: number;
  /** Unique pages of the guest RAM mapping (pages the guest wrote since restore, copied from the template). */
  guestMb: number;
  /**
   * The part of {@link guestMb} that is the guest's own copies (anonymous pages); the rest are
   * pages of the RAM file's page cache only this process maps (there whether or not it runs).
   */
  guestAnonMb: number;
  /** Unique pages of the TCG translation cache (the anonymous rwx mapping). */
  tcgMb: number;
  /** Everything else unique: QEMU's heap, thread arenas and stacks, device state. */
  otherMb: number;
  /** Pages merged by KSM (smaps `KSM:`; counted as shared, not unique). */
  ksmMb: number;
  /** Anonymous memory backed by transparent huge pages. */
  hugeMb: number;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(.*)$/;

/**
 * Splits /proc/<pid>/smaps into regions. The guest RAM is the mapping of exactly
 * `guestBytes` (its backend file or anonymous RAM); the translation cache is the
 * anonymous mapping that is writable and executable (QEMU's TCG code buffer).
 */
export async function vmMemory(pid: number, guestBytes: number): Promise<VmMemory> {
  const text = await readFile(`/proc/${pid}/smaps`, "utf8");
  const out: VmMemory = {
    rssMb: 0,
    uniqueMb: 0,
    guestMb: 0,
    guestAnonMb: 0,
    tcgMb: 0,
    otherMb: 0,
    ksmMb: 0,
    hugeMb: 0,
  };
  let region: "guest" | "tcg" | "other" = "other";
  for (const line of text.split("\n")) {
    const header = HEADER.exec(line);
    if (header) {
      const size = Number.parseInt(header[2] ?? "0", 16) - Number.parseInt(header[1] ?? "0", 16);
      const anonymous = header[4] === "0" && !header[5];
      if (size === guestBytes) region = "guest";
      else if (anonymous && header[3]?.startsWith("rwx")) region = "tcg";
      else region = "other";
      continue;
    }
    const field = /^(\w+):\s+(\d+) kB/.exec(line);
    if (!field) continue;
    const mb = Number(field[2]) / 1024;
    switch (field[1]) {
      case "Rss":
        out.rssMb += mb;
        break;
      case "Private_Clean":
      case "Private_Dirty":
        out.uniqueMb += mb;
        out[`${region}Mb`] += mb;
        break;
      case "Anonymous":
        if (region === "guest") out.guestAnonMb += mb;
        break;
      case "KSM":
        out.ksmMb += mb;
        break;
      case "AnonHugePages":
        out.hugeMb += mb;
        break;
    }
  }
  return out;
}

/** CPU time (user + system) a process has used, in ms, from /proc/<pid>/stat. */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  // Fields after the command name (which may hold spaces) start after the last ')'; utime is field 14.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(rest[11] ?? 0) + Number(rest[12] ?? 0);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/** The KSM counters of the host in MiB (`pages_sharing`: pages saved by merging), or undefined without KSM. */
export async function ksmState(): Promise<{ run: number; sharedMb: number; savedMb: number } | undefined> {
  const read = (name: string) => readFile(`/sys/kernel/mm/ksm/${name}`, "utf8").then((s) => Number(s.trim()));
  try {
    const [run, shared, sharing] = await Promise.all([
      read("run"),
      read("pages_shared"),
      read("pages_sharing"),
    ]);
    return { run, sharedMb: (shared * 4) / 1024, savedMb: (sharing * 4) / 1024 };
  } catch {
    return undefined;
  }
}
