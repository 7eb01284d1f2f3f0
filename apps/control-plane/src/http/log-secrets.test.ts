import { Writable } from "node:stream";
import { errors, loggerOptions } from "@wrenn/common";
import { createApiKey, createUser } from "@wrenn/db";
import { createTestDatabase, type TestDatabase } from "@wrenn/testing/db";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashApiKey } from "../auth/api-keys.ts";
import { hashPassword } from "../auth/passwords.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.cleanup();
});

/** A logger with the production configuration writing into `lines`. */
function capture() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { log: pino(loggerOptions("control-plane", "debug"), sink), text: () => lines.join("") };
}

/** The error `fn` rejects with (it must reject). */
async function failure(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected the query to fail");
}

describe("failed queries in logs", () => {
  it("never print bound parameters or the values PostgreSQL echoes", async () => {
    const passwordHash = await hashPassword("a long enough password");
    const user = await createUser(db.db, { email: "dup@example.com", name: "Dup", passwordHash });
    // A unique violation: PostgreSQL's detail echoes the key, Drizzle's message lists every parameter.
    const duplicate = await failure(() =>
      createUser(db.db, { email: "dup@example.com", name: "Dup", passwordHash }),
    );
    const keyHash = hashApiKey("wrn_secret-key-material-for-the-test");
    // A malformed uuid: the key hash is a bound parameter, PostgreSQL's `where` quotes the bad one.
    const orphan = await failure(() =>
      createApiKey(db.db, {
        teamId: "team-not-a-uuid",
        name: "k",
        keyHash,
        keyPrefix: "wrn_secret",
        createdBy: user.id,
      }),
    );
    const { log, text } = capture();
    // As the HTTP error handler logs an unexpected error: wrapped, with the cause chain.
    log.error({ err: errors.internal("internal error", duplicate), code: "internal" }, "internal error");
    log.error({ err: orphan }, "insert failed");
    log.warn({ error: orphan }, "insert failed");
    // A row logged by mistake is redacted by field name.
    log.info({ row: { keyHash, envdAccessToken: "envd-token-value", passwordHash } }, "row");
    const out = text();
    expect(out).toContain("Failed query: insert into");
    expect(out).toContain("23505"); // the code still says what happened
    for (const secret of [passwordHash, keyHash, "envd-token-value", "dup@example.com"]) {
      expect(out).not.toContain(secret);
    }
  });
});
