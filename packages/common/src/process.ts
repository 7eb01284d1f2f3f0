/**
 * True when a process with this pid exists. EPERM counts as alive: the process is there but
 * belongs to another user (e.g. PostgreSQL run as `postgres` by a non-root caller), and a lock or
 * pid file it holds must not be taken over.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
