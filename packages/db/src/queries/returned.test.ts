import { isWrennError } from "@wrenn/common";
import { createTestDatabase, type TestDatabase } from "@wrenn/testing/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTeam } from "./teams.ts";

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb?.cleanup();
});

describe("an insert that returns no row", () => {
  it("is a coded internal error naming the table, not a bare Error", async () => {
    // A BEFORE trigger returning NULL silently drops the row: the one way RETURNING comes back empty.
    await tdb.pool.query(`
      CREATE FUNCTION swallow_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
      CREATE TRIGGER swallow BEFORE INSERT ON teams FOR EACH ROW EXECUTE FUNCTION swallow_row();`);
    const err = await createTeam(tdb.db, { name: "ghost" }).catch((e: unknown) => e);
    expect(isWrennError(err)).toBe(true);
    expect(err).toMatchObject({ code: "internal", message: "insert into teams returned no row" });
  });
});
