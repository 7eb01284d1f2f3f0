import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.cleanup();
});

const me = async (token: string) => (await call(t.app, "GET", "/v1/me", { token })).status;

async function login(email: string, password: string) {
  const res = await call(t.app, "POST", "/v1/auth/login", { body: { email, password } });
  return res;
}

describe("session model", () => {
  it("a password change revokes every session issued before it and answers with a new one", async () => {
    const u = await signupUser(t.app);
    const other = await login(u.user.email, u.password); // a second device
    expect(other.status).toBe(200);
    const wrong = await call(t.app, "POST", "/v1/auth/password", {
      token: u.token,
      body: { current_password: "not it at all", new_password: "a brand new passphrase" },
    });
    expect(wrong.status).toBe(403);
    expect(await me(other.body.token)).toBe(200); // a failed change revokes nothing
    const changed = await call(t.app, "POST", "/v1/auth/password", {
      token: u.token,
      body: { current_password: u.password, new_password: "a brand new passphrase" },
    });
    expect(changed.status).toBe(200);
    expect(await me(u.token)).toBe(401);
    expect(await me(other.body.token)).toBe(401);
    expect(await me(changed.body.token)).toBe(200);
    expect(changed.body.team.id).toBe(u.team.id);
    expect((await login(u.user.email, u.password)).status).toBe(401);
    expect((await login(u.user.email, "a brand new passphrase")).status).toBe(200);
  });

  it("logout ends the user's sessions but not the team's API keys", async () => {
    const u = await signupUser(t.app);
    const key = await call(t.app, "POST", "/v1/api-keys", { token: u.token, body: { name: "ci" } });
    const other = await login(u.user.email, u.password);
    expect((await call(t.app, "POST", "/v1/auth/logout", { token: u.token })).status).toBe(204);
    expect(await me(u.token)).toBe(401);
    expect(await me(other.body.token)).toBe(401);
    expect((await call(t.app, "GET", "/v1/me", { apiKey: key.body.key })).status).toBe(200);
    const again = await login(u.user.email, u.password);
    expect(await me(again.body.token)).toBe(200);
  });

  it("refuses a too-short new password and API keys", async () => {
    const u = await signupUser(t.app);
    const short = await call(t.app, "POST", "/v1/auth/password", {
      token: u.token,
      body: { current_password: u.password, new_password: "short" },
    });
    expect(short.status).toBe(400);
    const key = await call(t.app, "POST", "/v1/api-keys", { token: u.token, body: { name: "ci" } });
    const viaKey = await call(t.app, "POST", "/v1/auth/logout", { apiKey: key.body.key });
    expect(viaKey.status).toBe(401);
  });
});
