import { createTestDatabase, type TestDatabase } from "@wrenn/testing/db";
import { is, sql } from "drizzle-orm";
import { getTableConfig, PgTable } from "drizzle-orm/pg-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addMember,
  createTeam,
  createUser,
  escapeLike,
  getLoginTeam,
  getUserByEmail,
  isUniqueViolation,
  migrate,
  PLATFORM_TEAM_ID,
  searchUsersByEmailPrefix,
} from "./index.ts";
import * as schema from "./schema.ts";

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb?.cleanup();
});

describe("migrations", () => {
  it("are recorded and idempotent", async () => {
    expect(await migrate(tdb.url)).toEqual([]);
    const { rows } = await tdb.pool.query("SELECT version FROM schema_migrations");
    expect(rows.map((r) => r.version)).toContain("0001_init");
  });

  it("create every table later issues need and seed the minimal template", async () => {
    const { rows } = await tdb.pool.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    );
    const names = rows.map((r) => r.table_name);
    for (const t of [
      "users",
      "teams",
      "users_teams",
      "team_api_keys",
      "oauth_providers",
      "admin_permissions",
      "audit_logs",
      "hosts",
      "host_tokens",
      "host_refresh_tokens",
      "host_tags",
      "sandboxes",
      "templates",
      "template_builds",
      "sandbox_metrics_snapshots",
      "sandbox_metric_points",
      "channels",
    ]) {
      expect(names).toContain(t);
    }
    const tpl = await tdb.db.execute(sql`SELECT name, team_id FROM templates WHERE name = 'minimal'`);
    expect(tpl.rows[0]).toEqual({ name: "minimal", team_id: PLATFORM_TEAM_ID });
  });
});

describe("drizzle schema", () => {
  it("matches the SQL migrations column for column", async () => {
    const tables = Object.values(schema).filter((v) => is(v, PgTable));
    expect(tables.length).toBeGreaterThanOrEqual(17);
    for (const table of tables) {
      const cfg = getTableConfig(table);
      const { rows } = await tdb.pool.query(
        "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1",
        [cfg.name],
      );
      const inDb = Object.fromEntries(rows.map((r) => [r.column_name, r.is_nullable === "YES"]));
      const inSchema = Object.fromEntries(cfg.columns.map((c) => [c.name, !c.notNull]));
      expect(inSchema, cfg.name).toEqual(inDb);
    }
  });
});

describe("users", () => {
  it("treats emails case-insensitively and reports the unique violation", async () => {
    await createUser(tdb.db, { email: "Ada@Example.com", name: "Ada", passwordHash: null });
    expect((await getUserByEmail(tdb.db, "ada@example.COM"))?.name).toBe("Ada");
    const dup = await createUser(tdb.db, { email: "ADA@example.com", name: "x", passwordHash: null }).catch(
      (e: unknown) => e,
    );
    expect(isUniqueViolation(dup)).toBe(true);
  });

  it("escapes LIKE metacharacters in prefix search", async () => {
    await createUser(tdb.db, { email: "a_b@x.io", name: "", passwordHash: null });
    await createUser(tdb.db, { email: "aXb@x.io", name: "", passwordHash: null });
    expect(escapeLike("a_b%\\")).toBe("a\\_b\\%\\\\");
    const hits = await searchUsersByEmailPrefix(tdb.db, "a_b", 10);
    expect(hits.map((h) => h.email)).toEqual(["a_b@x.io"]);
  });
});

describe("teams", () => {
  it("generates 12-hex slugs and falls back to the first active team at login", async () => {
    const u = await createUser(tdb.db, { email: "t@x.io", name: "T", passwordHash: null });
    const t1 = await createTeam(tdb.db, { name: "one" });
    const t2 = await createTeam(tdb.db, { name: "two" });
    expect(t1.slug).toMatch(/^[0-9a-f]{6}-[0-9a-f]{6}$/);
    await addMember(tdb.db, { teamId: t1.id, userId: u.id, role: "member" });
    await addMember(tdb.db, { teamId: t2.id, userId: u.id, role: "owner" });
    expect((await getLoginTeam(tdb.db, u.id))?.team.id).toBe(t1.id);
  });
});
