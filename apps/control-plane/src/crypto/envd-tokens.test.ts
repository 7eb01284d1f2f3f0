import { randomUUID } from "node:crypto";
import {
  call,
  createTestApp,
  insertOnlineHost,
  insertSandbox,
  signupUser,
  type TestApp,
} from "@wrenn/testing/app";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvdTokenVault, resealEnvdTokens } from "./envd-tokens.ts";
import { generateEncryptionKey, SecretBox } from "./secret-box.ts";

const key = generateEncryptionKey();
const vault = new EnvdTokenVault(SecretBox.fromSettings(key));

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { WRENN_ENCRYPTION_KEY: key } });
});
afterAll(async () => {
  await t?.cleanup();
});

async function storedToken(id: string): Promise<string> {
  const res = await t.db.db.execute(sql`SELECT envd_access_token AS token FROM sandboxes WHERE id = ${id}`);
  return (res.rows[0] as { token: string }).token;
}

describe("EnvdTokenVault", () => {
  it("seals a token bound to its sandbox and opens it again", () => {
    const id = randomUUID();
    const sealed = vault.seal(id, "tok-123456");
    expect(sealed).not.toContain("tok-123456");
    expect(vault.open(id, sealed)).toBe("tok-123456");
    expect(() => vault.open(randomUUID(), sealed)).toThrow(); // copied into another row: does not open
    expect(vault.open(id, "legacy-plain")).toBe("legacy-plain");
    expect(vault.needsSealing("legacy-plain")).toBe(true);
    expect(vault.needsSealing(sealed)).toBe(false);
    const rotated = new EnvdTokenVault(SecretBox.fromSettings(generateEncryptionKey(), key));
    expect(rotated.open(id, sealed)).toBe("tok-123456");
    expect(rotated.needsSealing(sealed)).toBe(true);
    expect(new EnvdTokenVault(undefined).seal(id, "t")).toBe("t");
    // A sealed token with no key configured: a coded internal error, the reason only in the cause.
    expect(() => new EnvdTokenVault(undefined).open(id, sealed)).toThrow(
      expect.objectContaining({ code: "internal", message: "a sealed envd access token cannot be opened" }),
    );
  });
});

describe("stored envd access tokens", () => {
  it("migrates plaintext rows to sealed ones that the API still answers with", async () => {
    const u = await signupUser(t.app);
    const key = await call(t.app, "POST", "/v1/api-keys", { token: u.token, body: { name: "k" } });
    const teamId = String(u.team.id).slice("team-".length);
    const id = randomUUID();
    const stoppedId = randomUUID();
    // Rows as an older version wrote them: the token in plain text.
    await t.db.db.execute(sql`INSERT INTO sandboxes (id, team_id, state, envd_access_token)
      VALUES (${id}, ${teamId}, 'running', 'plain-token-1'), (${stoppedId}, ${teamId}, 'stopped', 'plain-token-2')`);
    expect(await resealEnvdTokens(t.db.db, vault)).toBeGreaterThanOrEqual(1);
    const stored = await storedToken(id);
    expect(stored).toMatch(/^sealed:/);
    expect(stored).not.toContain("plain-token-1");
    expect(await resealEnvdTokens(t.db.db, vault)).toBe(0); // idempotent
    // E2B's get answers with the opened token.
    const got = await call(t.app, "GET", `/e2b/sandboxes/sb-${id}`, { apiKey: key.body.key });
    expect(got.status).toBe(200);
    expect(got.body.envdAccessToken).toBe("plain-token-1");
  });
});

describe("new sandboxes' envd access tokens", () => {
  it("are stored sealed from the first write (create and fork), never in plain text", async () => {
    // Nothing listens at the host: create and fork fail at the agent, after the row was written.
    const hostId = await insertOnlineHost(t, "127.0.0.1:9");
    const u = await signupUser(t.app);
    const teamId = String(u.team.id).slice("team-".length);
    const created = await call(t.app, "POST", "/v1/sandboxes", { token: u.token, body: {} });
    expect(created.status, JSON.stringify(created.body)).toBeGreaterThanOrEqual(500);
    const source = await insertSandbox(t, { teamId, hostId, state: "running" });
    const fork = await call(t.app, "POST", `/v1/sandboxes/sb-${source}/fork`, { token: u.token, body: {} });
    expect(fork.status, JSON.stringify(fork.body)).toBeGreaterThanOrEqual(500);
    const res = await t.db.db.execute(
      sql`SELECT id, envd_access_token AS token FROM sandboxes WHERE team_id = ${teamId} AND id <> ${source}`,
    );
    const rows = res.rows as { id: string; token: string | null }[];
    expect(rows.length).toBeGreaterThanOrEqual(2); // the created sandbox and the fork
    for (const row of rows) {
      expect(row.token).toMatch(/^sealed:/);
      expect(vault.open(row.id, row.token)).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    }
  });
});
