import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "./embedded.ts";
import { migrate, migrationsDir } from "./migrate.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function postgresRunningIn(dataDir: string): boolean {
  const out = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
  return out.split("\n").some((l) => l.includes(`-D ${dataDir}`));
}

describe("embedded PostgreSQL (used when DATABASE_URL is unset)", () => {
  it("initialises, migrates, stops cleanly and reuses its data on the next start", async () => {
    const dir = await mkdtemp(join(tmpdir(), "wrenn-embedded-"));
    dirs.push(dir);
    const dataDir = join(dir, "postgres");
    const first = await startEmbeddedPostgres({ dataDir });
    try {
      expect(await migrate(first.url)).toEqual(
        (await readdir(migrationsDir))
          .filter((f) => /^\d{4}_.+\.sql$/.test(f))
          .map((f) => f.replace(/\.sql$/, ""))
          .sort(),
      );
      const c = new pg.Client({ connectionString: first.url });
      await c.connect();
      await c.query("INSERT INTO users (email, name) VALUES ('keep@x.io', 'Keep')");
      await c.end();
    } finally {
      await first.stop();
    }
    expect(postgresRunningIn(dataDir)).toBe(false);

    const second = await startEmbeddedPostgres({ dataDir });
    try {
      expect(await migrate(second.url)).toEqual([]);
      const c = new pg.Client({ connectionString: second.url });
      await c.connect();
      const { rows } = await c.query("SELECT name FROM users WHERE email = 'keep@x.io'");
      await c.end();
      expect(rows).toEqual([{ name: "Keep" }]);
    } finally {
      await second.stop();
    }
    expect(postgresRunningIn(dataDir)).toBe(false);
  });
});
