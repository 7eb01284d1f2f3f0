import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectDatabase, type DbHandle, migrate, startEmbeddedPostgres } from "@wrenn/db";
import pg from "pg";

/** A freshly created, migrated database for one test file. */
export interface TestDatabase extends DbHandle {
  url: string;
  /** Closes the pool, drops the database and stops any server this helper started. */
  cleanup(): Promise<void>;
}

const LOCAL_DEFAULT = "postgres://postgres@127.0.0.1:5432/postgres";

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Creates `wrenn_test_<random>` on `TEST_DATABASE_URL`, else on a local server at
 * 127.0.0.1:5432 when one answers, else on an embedded PostgreSQL started just for
 * this test file (a fresh CI machine may have no server at all; `TEST_DATABASE_URL=embedded`
 * forces this). Migrations are
 * applied. Each file gets its own database, so files can run in parallel.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  // TEST_DATABASE_URL=embedded forces the embedded server (what a bare CI machine gets).
  const forced = process.env.TEST_DATABASE_URL;
  let adminUrl = forced === "embedded" ? undefined : forced;
  let stopServer: (() => Promise<void>) | undefined;
  let tempDir: string | undefined;
  if (!adminUrl && forced !== "embedded" && (await answers(LOCAL_DEFAULT))) adminUrl = LOCAL_DEFAULT;
  if (!adminUrl) {
    tempDir = await mkdtemp(join(tmpdir(), "wrenn-test-pg-"));
    const server = await startEmbeddedPostgres({ dataDir: join(tempDir, "data") });
    adminUrl = server.url;
    stopServer = server.stop;
  }
  const name = `wrenn_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await migrate(url.toString());
  const handle = connectDatabase(url.toString(), { max: 5 });
  return {
    ...handle,
    url: url.toString(),
    async cleanup() {
      await handle.close().catch(() => undefined);
      const c = new pg.Client({ connectionString: adminUrl });
      try {
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end().catch(() => undefined);
      }
      await stopServer?.();
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
    },
  };
}
