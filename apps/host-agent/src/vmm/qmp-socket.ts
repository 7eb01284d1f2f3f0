import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The QMP socket's file name inside a VM's run directory. */
export const QMP_SOCKET_FILE = "qmp.sock";

// A Unix socket address holds at most 108 bytes, the terminating NUL included.
const MAX_SOCKET_PATH_BYTES = 107;

/**
 * The QMP socket of the VM whose run directory is `runDir`: inside it, unless
 * that path does not fit a socket address (template generations of team
 * templates, `templates/teams/<uuid>/<uuid>/gen-<n>/`, are that deep), then a
 * name derived from the run directory in the system temp directory.
 */
export function qmpSocketPath(runDir: string): string {
  const inRunDir = join(runDir, QMP_SOCKET_FILE);
  if (Buffer.byteLength(inRunDir) <= MAX_SOCKET_PATH_BYTES) return inRunDir;
  const digest = createHash("sha256").update(runDir).digest("hex").slice(0, 24);
  return join(tmpdir(), `wrenn-qmp-${digest}.sock`);
}

/**
 * The QMP socket a running QEMU was started with (its `-qmp unix:<path>,…` argument), or
 * undefined when `cmdline` names none. A VM's run directory can be renamed after its start (a
 * warm VM handed to a sandbox), so a socket outside it keeps the name of the old directory.
 */
export function qmpSocketInCmdline(cmdline: string[]): string | undefined {
  const at = cmdline.indexOf("-qmp");
  const value = at >= 0 ? cmdline[at + 1] : undefined;
  if (!value?.startsWith("unix:")) return undefined;
  return value.slice("unix:".length).split(",")[0] || undefined;
}

/**
 * Where to reach the QMP socket of process `pid` that runs in `runDir`: the path on its command
 * line when it is outside the run directory (a socket inside moves with the directory), else
 * the one the run directory names today.
 */
export async function qmpSocketOfProcess(pid: number, runDir: string): Promise<string> {
  const cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).split("\0");
  const started = qmpSocketInCmdline(cmdline);
  if (started && !started.endsWith(`/${QMP_SOCKET_FILE}`)) return started;
  return qmpSocketPath(runDir);
}
